import fs from 'node:fs';
import path from 'node:path';
import type { BuildStamp } from '../../packaging/sea/bundle.ts';
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
  /** An already built linux-x64 agent to package instead of building one (a split pipeline). */
  prebuiltLinuxAgent?: string;
}

/**
 * Builds the single executables once for every packager: linux-x64 and, when asked,
 * the Authenticode-signed win-x64 agent (signing time fixed to SOURCE_DATE_EPOCH).
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
  });
  if (!sea.windowsUnsigned) {
    // No Windows packager selected: nothing may read this path (see ExecutableSet).
    return { linuxAgent: sea.linux, windowsAgent: '' };
  }

  const dir = path.join(opts.workDir, 'sea');
  fs.mkdirSync(dir, { recursive: true });
  const windowsAgent = await signAuthenticode(
    sea.windowsUnsigned,
    path.join(dir, 'certagent.exe'),
    opts.authenticode,
    { signingTime: opts.sourceDateEpoch, description: opts.meta.name, url: opts.meta.homepage },
  );
  return { linuxAgent: sea.linux, windowsAgent };
}
