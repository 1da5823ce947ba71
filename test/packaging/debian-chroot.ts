import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where the minbase tarball is cached between test runs (outside the checkout). */
export const CHROOT_CACHE = process.env.CERTAGENT_CHROOT_CACHE ?? '/tmp/certagent-test-cache';
const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';

/**
 * A tarball of a `debootstrap --variant=minbase` Debian root, built once (about 40 s) and
 * shared by every test file: the `flock` makes parallel files wait for the first one.
 */
export async function minbaseTarball(): Promise<string> {
  fs.mkdirSync(CHROOT_CACHE, { recursive: true });
  const tarball = path.join(CHROOT_CACHE, `${SUITE}-minbase.tar`);
  const script = `
    set -e
    [ -s "$1" ] && exit 0
    dir=$(mktemp -d "$1.build.XXXXXX")
    debootstrap --variant=minbase ${SUITE} "$dir" ${MIRROR} >"$1.log" 2>&1
    chmod 0755 "$dir"
    tar -C "$dir" -cf "$1.tmp" .
    rm -rf "$dir"
    mv "$1.tmp" "$1"`;
  await execa('flock', [`${tarball}.lock`, 'sh', '-c', script, 'sh', tarball], {
    timeout: 600_000,
  });
  return tarball;
}

/** A fresh chroot unpacked from the cached tarball, with /proc mounted. */
export interface Chroot {
  root: string;
  run(cmd: string[], opts?: { env?: Record<string, string>; input?: string }): Promise<RunResult>;
  dispose(): Promise<void>;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function createChroot(label: string): Promise<Chroot> {
  const tarball = await minbaseTarball();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `certagent-${label}-root-`));
  await execa('tar', ['-C', root, '-xf', tarball]);
  // mkdtemp (here and when the tarball was made) gives 0700, and tar restores the mode of
  // '.': the service user inside must be able to walk from /.
  fs.chmodSync(root, 0o755);
  await execa('mount', ['-t', 'proc', 'proc', path.join(root, 'proc')]);

  return {
    root,
    async run(cmd, opts = {}) {
      // env -i: nothing of the test runner's environment (Node, PATH to node_modules) leaks in.
      const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...opts.env };
      const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
      const res = await execa('chroot', [root, 'env', '-i', ...envArgs, ...cmd], {
        reject: false,
        input: opts.input,
        timeout: 300_000,
      });
      return { exitCode: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr };
    },
    async dispose() {
      // Never delete through a live mount: leave the tree behind rather than risk it.
      const res = await execa('umount', [path.join(root, 'proc')], { reject: false });
      if (res.exitCode !== 0) throw new Error(`umount ${root}/proc failed: ${res.stderr}`);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
