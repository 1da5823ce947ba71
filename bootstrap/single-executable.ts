import fs from 'node:fs';
import path from 'node:path';
import { nodeRuntime } from '../packaging/sea/node-runtime.ts';
import { injectBlob, makeBlob, removeSignature } from '../packaging/sea/single-executable.ts';
import { bundleBootstrap, type BootstrapBuild } from './bundle.ts';

export interface BootstrapExecutableOptions extends BootstrapBuild {
  /** Node runtime version (package.json certagent.nodeRuntimeVersion). */
  nodeVersion: string;
  /** Where the release build caches Node runtimes. */
  cacheDir: string;
}

/**
 * Builds `certagent-setup.exe`: the bootstrap bundle in a win-x64 Node single executable,
 * unsigned (the release step signs it with Authenticode). Runtimes, blob and injection are
 * packaging/sea's; only the entry point and its bundle are the bootstrap's own.
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

    const unsigned = await removeSignature(winNode, path.join(scratch, 'node.exe'));
    await injectBlob(unsigned, blob, outFile);
    return outFile;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
