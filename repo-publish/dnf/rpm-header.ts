import { execa } from 'execa';

import { OperationalError } from '../../agent/cli/errors.ts';

export interface RpmHeader {
  name: string;
  arch: string;
  /** `version-release`. */
  evr: string;
  /** Digest of the main header: the same before and after signing. */
  headerSha256: string;
}

/** Reads an RPM's identity with rpm itself. */
export async function readRpmHeader(file: string): Promise<RpmHeader> {
  const format = '%{NAME}\\t%{ARCH}\\t%{VERSION}-%{RELEASE}\\t%{SHA256HEADER}';
  const res = await execa('rpm', ['-qp', '--nosignature', '--qf', format, file], {
    reject: false,
  });
  const [name, arch, evr, headerSha256] = res.stdout.split('\t');
  if (res.exitCode !== 0 || !name || !arch || !evr || !headerSha256) {
    throw new OperationalError(
      `cannot read the RPM header of ${file}: ${res.stderr.trim() || 'no output'}. ` +
        'Is it a valid .rpm? Rebuild it with `npm run release`.',
      'rpm_header',
    );
  }
  return { name, arch, evr, headerSha256 };
}
