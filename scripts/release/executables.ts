import fs from 'node:fs';
import path from 'node:path';
import type { BuildStamp } from '../../packaging/sea/bundle.ts';
import { buildBootstrapExecutable } from '../../bootstrap/single-executable.ts';
import { buildSingleExecutables } from '../../packaging/sea/single-executable.ts';
import { signAuthenticode } from '../../packaging/authenticode/sign.ts';
import type { ExecutableSet, ProductMetadata } from '../../packaging/packager.ts';

export interface ExecutablesOptions {
  meta: ProductMetadata;
  stamp: BuildStamp;
  sourceDateEpoch: number;
  nodeVersion: string;
  cacheDir: string;
  workDir: string;
  /** Only MSI and `sea` need the Windows executable; skipping it saves ~15 s. */
  windows: boolean;
  authenticode: { chain: string; key: string };
  /** The armoured release public key the agent's updater trusts (the SHA256SUMS signer). */
  releaseKey: string;
  /** An already built linux-x64 agent to package instead of building one (a split pipeline). */
  prebuiltLinuxAgent?: string;
}

/**
 * Builds the single executables once for every packager: linux-x64 and, when asked,
 * the Authenticode-signed win-x64 agent and bootstrap downloader (`certagent-setup.exe`),
 * signing time fixed to SOURCE_DATE_EPOCH.
 */
export async function buildExecutables(opts: ExecutablesOptions): Promise<ExecutableSet> {
  if (opts.prebuiltLinuxAgent && !opts.windows) {
    return { linuxAgent: opts.prebuiltLinuxAgent, windowsAgent: '' };
  }
  const sea = await buildSingleExecutables({
    stamp: opts.stamp,
    nodeVersion: opts.nodeVersion,
    cacheDir: opts.cacheDir,
    windows: opts.windows,
    releaseKey: opts.releaseKey,
  });
  if (!sea.windowsUnsigned) {
    // No Windows packager selected: nothing may read this path (see ExecutableSet).
    return { linuxAgent: sea.linux, windowsAgent: '' };
  }

  const dir = path.join(opts.workDir, 'sea');
  fs.mkdirSync(dir, { recursive: true });
  const sign = (unsigned: string, name: string) =>
    signAuthenticode(unsigned, path.join(dir, name), opts.authenticode, {
      signingTime: opts.sourceDateEpoch,
      description: opts.meta.name,
      url: opts.meta.homepage,
    });
  const windowsAgent = await sign(sea.windowsUnsigned, 'certagent.exe');
  const windowsBootstrap = await sign(await buildBootstrap(opts, dir), BOOTSTRAP_NAME);
  return { linuxAgent: sea.linux, windowsAgent, windowsBootstrap };
}

/** The name repo-publish places under windows/ (BOOTSTRAP_PATTERN); stable across versions. */
export const BOOTSTRAP_NAME = 'certagent-setup.exe';

// The bootstrap trusts the same release key and fetches from the same distribution host
// as the agent it installs.
async function buildBootstrap(opts: ExecutablesOptions, dir: string): Promise<string> {
  const unsignedDir = path.join(dir, 'unsigned');
  fs.mkdirSync(unsignedDir, { recursive: true });
  return buildBootstrapExecutable(path.join(unsignedDir, BOOTSTRAP_NAME), {
    releaseKeyArmored: opts.releaseKey,
    source: opts.meta.distributionUrl,
    nodeVersion: opts.nodeVersion,
    cacheDir: opts.cacheDir,
  });
}
