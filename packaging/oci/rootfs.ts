import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { IMAGE_LAYOUT } from './image-config.ts';

/** Inputs of the image's root filesystem, all taken from the build machine's Debian. */
export interface RootfsInputs {
  /** The linux-x64 agent single executable. */
  agent: string;
  /** CA bundle of Debian's ca-certificates package. */
  caBundle: string;
}

const PASSWD = [
  'root:x:0:0:root:/root:/sbin/nologin',
  `${IMAGE_LAYOUT.user}:x:${IMAGE_LAYOUT.uid}:${IMAGE_LAYOUT.gid}:certagent:` +
    `${IMAGE_LAYOUT.baseDir}:/sbin/nologin`,
];
const GROUP = ['root:x:0:', `${IMAGE_LAYOUT.user}:x:${IMAGE_LAYOUT.gid}:`];

/**
 * Lays out a shell-less root filesystem in `dir`: the agent, the C runtime it links
 * against (Node's official builds need glibc and libstdc++), users, CA bundle, /tmp and
 * the /base volume. Modes are set explicitly so the umask of the build does not leak in.
 */
export async function buildRootfs(dir: string, inputs: RootfsInputs): Promise<void> {
  for (const [what, file] of Object.entries(inputs)) {
    if (!fs.existsSync(file)) {
      throw new Error(
        `oci image: ${what} ${file} does not exist: build it first (npm run release)`,
      );
    }
  }

  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of ['etc/ssl/certs', 'opt/certagent', 'tmp', 'base']) mkdir(dir, d);

  copyFile(inputs.agent, path.join(dir, IMAGE_LAYOUT.entrypoint), 0o755);
  // One executable, two names: the agent picks its role from the name it was run as.
  fs.symlinkSync('certagent', path.join(dir, IMAGE_LAYOUT.programDir, 'certagent-config'));

  for (const lib of await sharedLibraries(inputs.agent)) {
    fs.mkdirSync(path.join(dir, path.dirname(lib)), { recursive: true, mode: 0o755 });
    copyFile(lib, path.join(dir, lib), 0o755);
  }

  writeText(dir, 'etc/passwd', PASSWD);
  writeText(dir, 'etc/group', GROUP);
  // glibc resolves names through files then DNS; the container runtime mounts hosts.
  writeText(dir, 'etc/nsswitch.conf', ['hosts: files dns', 'passwd: files', 'group: files']);
  copyFile(inputs.caBundle, path.join(dir, IMAGE_LAYOUT.caBundle), 0o644);
  normaliseDirectoryModes(dir);
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.chmodSync(path.join(dir, 'base'), 0o700);
}

function normaliseDirectoryModes(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) normaliseDirectoryModes(path.join(dir, entry.name));
  }
}

/**
 * The shared libraries `ldd` resolves for the executable, as absolute paths (the
 * dynamic loader included). A static executable needs none.
 */
export async function sharedLibraries(executable: string): Promise<string[]> {
  const result = await execa('ldd', [executable], { reject: false });
  if (/not a dynamic executable|statically linked/.test(result.stdout + result.stderr)) return [];
  if (result.exitCode !== 0) {
    throw new Error(`ldd ${executable} failed: ${result.stderr.trim()}`);
  }

  const libs = new Set<string>();
  for (const line of result.stdout.split('\n')) {
    const resolved = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (resolved) libs.add(resolved[1]);
    if (/=>\s+not found/.test(line)) {
      throw new Error(`${executable} needs ${line.trim()}: install the library and build again`);
    }
  }
  return [...libs].sort();
}

function mkdir(root: string, rel: string): void {
  fs.mkdirSync(path.join(root, rel), { recursive: true, mode: 0o755 });
}

// Copies the content (symlinks followed), so the image holds real files, not host links.
function copyFile(from: string, to: string, mode: number): void {
  fs.copyFileSync(fs.realpathSync(from), to);
  fs.chmodSync(to, mode);
}

function writeText(root: string, rel: string, lines: string[]): void {
  const file = path.join(root, rel);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  fs.chmodSync(file, 0o644);
}
