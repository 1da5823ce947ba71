import fs from 'node:fs';
import path from 'node:path';

import { OperationalError } from '../../agent/cli/errors.ts';

/** The files `npm run release` left in dist/ that the site publishes. */
export interface DistArtifacts {
  debs: string[];
  rpms: string[];
  /** Linux self-extracting installers, `certagent-x.y.z-linux-x64.bin`. */
  bins: string[];
  /** `certagent-x.y.z-<arch>.msi`. */
  msis: string[];
  /** The Windows bootstrap downloader, `certagent-setup*.exe`. */
  bootstraps: string[];
}

/** Lists the artifacts at the top of `fromDir`; a missing directory is an error. */
export function findDistArtifacts(fromDir: string): DistArtifacts {
  let names: string[];
  try {
    names = fs.readdirSync(fromDir).sort();
  } catch (cause) {
    throw new OperationalError(
      `cannot read artifacts directory ${fromDir}: ${(cause as Error).message}. ` +
        'Run `npm run release` first or pass --from DIR.',
      'publish_from',
      { cause },
    );
  }

  const pick = (test: (n: string) => boolean) =>
    names.filter(test).map((n) => path.join(fromDir, n));
  return {
    debs: pick((n) => n.endsWith('.deb')),
    rpms: pick((n) => n.endsWith('.rpm') && !n.endsWith('.src.rpm')),
    bins: pick((n) => /^certagent-.+-linux-x64\.bin$/.test(n)),
    msis: pick((n) => /^certagent-.+\.msi$/.test(n)),
    bootstraps: pick((n) => /^certagent-setup.*\.exe$/.test(n)),
  };
}

export function artifactCount(a: DistArtifacts): number {
  return a.debs.length + a.rpms.length + a.bins.length + a.msis.length + a.bootstraps.length;
}
