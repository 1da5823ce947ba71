import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CACHE = path.join(REPO_ROOT, '.cache', 'repo-publish', 'bookworm-minbase');
const MIRROR = 'http://deb.debian.org/debian';

/**
 * A Debian 12 minbase root for running the real apt, built once with debootstrap (about
 * a minute) and reused from .cache/ afterwards. Its own sources are emptied: apt in the
 * tests talks only to the loopback site.
 */
export async function ensureBookwormChroot(): Promise<string> {
  if (fs.existsSync(path.join(CACHE, 'usr/bin/apt-get'))) return CACHE;

  fs.mkdirSync(path.dirname(CACHE), { recursive: true });
  const building = `${CACHE}.building-${process.pid}`;
  fs.rmSync(building, { recursive: true, force: true });
  await execa('debootstrap', ['--variant=minbase', 'bookworm', building, MIRROR]);
  fs.writeFileSync(path.join(building, 'etc/apt/sources.list'), '');

  try {
    fs.renameSync(building, CACHE);
  } catch {
    // Another run finished first; its root is as good as ours.
    fs.rmSync(building, { recursive: true, force: true });
  }
  return CACHE;
}

/** Runs a command inside the root. apt fetches as `_apt`, which needs readable files. */
export function inChroot(root: string, args: string[]) {
  return execa('chroot', [root, ...args], {
    reject: false,
    all: true,
    env: { DEBIAN_FRONTEND: 'noninteractive', PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    extendEnv: false,
  });
}
