import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../../agent/cli/errors.ts';

export type RuntimePlatform = 'linux-x64' | 'win-x64';

const BINARY_IN_PACKAGE: Record<RuntimePlatform, string> = {
  'linux-x64': 'package/bin/node',
  'win-x64': 'package/bin/node.exe',
};

/**
 * Returns the path of the pinned Node runtime binary for `platform`, fetched with
 * `npm pack node-<platform>@<version>` into `cacheDir` on first use. It is deliberately not
 * an npm dependency: its bin/node would shadow the Node 20 that runs the npm scripts.
 */
export async function nodeRuntime(
  platform: RuntimePlatform,
  version: string,
  cacheDir: string,
): Promise<string> {
  const dir = path.join(cacheDir, `node-${platform}-${version}`);
  const binary = path.join(dir, path.basename(BINARY_IN_PACKAGE[platform]));
  if (fs.existsSync(binary)) return binary;

  const tmp = `${dir}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const spec = `node-${platform}@${version}`;
  const packed = await execa('npm', ['pack', '--silent', spec], { cwd: tmp, reject: false });
  if (packed.exitCode !== 0) {
    throw new OperationalError(
      `npm pack ${spec} failed (${packed.stderr.trim().split('\n').pop()}); check the npm ` +
        'registry is reachable and certagent.nodeRuntimeVersion in package.json exists.',
      'runtime_fetch',
    );
  }

  const tarball = path.join(tmp, packed.stdout.trim().split('\n').pop() ?? '');
  await execa('tar', ['-xzf', tarball, '-C', tmp, BINARY_IN_PACKAGE[platform]]);
  fs.renameSync(path.join(tmp, BINARY_IN_PACKAGE[platform]), path.join(tmp, path.basename(binary)));
  fs.rmSync(path.join(tmp, 'package'), { recursive: true, force: true });
  fs.rmSync(tarball);
  // Another build may have won the race; either copy is the same file.
  try {
    fs.renameSync(tmp, dir);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return binary;
}
