import { execa } from 'execa';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { OperationalError } from '../agent/cli/errors.ts';
import { nodeRuntime } from '../packaging/sea/node-runtime.ts';
import { SEA_FUSE } from '../packaging/sea/single-executable.ts';
import { bundleBootstrap, type BootstrapBuild } from './bundle.ts';

const POSTJECT = createRequire(import.meta.url).resolve('postject/dist/cli.js');

export interface BootstrapExecutableOptions extends BootstrapBuild {
  /** Node runtime version (package.json certagent.nodeRuntimeVersion). */
  nodeVersion: string;
  /** Where the release build caches Node runtimes. */
  cacheDir: string;
}

/**
 * Builds `certagent-setup.exe`: the bootstrap bundle in a win-x64 Node single executable,
 * unsigned (the release step signs it with Authenticode). Uses the release engineer's
 * runtime cache; the blob and injection steps mirror packaging/sea, which only builds the
 * agent's own entry point.
 */
export async function buildBootstrapExecutable(
  outFile: string,
  options: BootstrapExecutableOptions,
): Promise<string> {
  const scratch = fs.mkdtempSync(path.join(path.dirname(outFile), '.bootstrap-sea-'));
  try {
    const bundle = await bundleBootstrap(path.join(scratch, 'certagent-setup.cjs'), options);
    const linuxNode = await nodeRuntime('linux-x64', options.nodeVersion, options.cacheDir);
    const winNode = await nodeRuntime('win-x64', options.nodeVersion, options.cacheDir);
    const blob = await makeBlob(linuxNode, bundle, scratch);

    const unsigned = path.join(scratch, 'node.exe');
    await run('osslsigncode', ['remove-signature', '-in', winNode, '-out', unsigned], 'unsign');
    await run(
      process.execPath,
      [POSTJECT, unsigned, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE],
      'inject',
    );
    fs.renameSync(unsigned, outFile);
    return outFile;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

// No code cache or snapshot: they are tied to the V8 of the Linux node making the blob.
async function makeBlob(node: string, bundle: string, scratch: string): Promise<string> {
  const blob = path.join(scratch, 'sea-prep.blob');
  const config = path.join(scratch, 'sea-config.json');
  fs.writeFileSync(
    config,
    // Relative names, resolved from the scratch folder: the blob records `main` as given,
    // and a random temporary path there would make every build's bytes differ.
    JSON.stringify({
      main: path.relative(scratch, bundle),
      output: path.basename(blob),
      disableExperimentalSEAWarning: true,
      useCodeCache: false,
      useSnapshot: false,
    }),
  );
  await run(node, ['--experimental-sea-config', config], 'blob', scratch);
  return blob;
}

async function run(file: string, args: string[], step: string, cwd?: string): Promise<void> {
  const res = await execa(file, args, { reject: false, cwd });
  if (res.exitCode === 0) return;
  throw new OperationalError(
    `building the bootstrap executable failed at "${step}" (${path.basename(file)} exit ` +
      `${res.exitCode}): ${`${res.stdout}${res.stderr}`.trim().slice(0, 400)}`,
    `bootstrap.sea-${step}`,
  );
}
