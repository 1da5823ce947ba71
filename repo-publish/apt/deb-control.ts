import { execa } from 'execa';

import { OperationalError } from '../../agent/cli/errors.ts';

/** The control stanza of a .deb as `dpkg-deb -f` prints it, plus the fields we index by. */
export interface DebControl {
  package: string;
  version: string;
  architecture: string;
  /** The stanza text, newline-terminated, exactly as the package declares it. */
  stanza: string;
}

/** Reads a .deb's control fields with dpkg-deb (the real parser, not ours). */
export async function readDebControl(file: string): Promise<DebControl> {
  const res = await execa('dpkg-deb', ['-f', file], { reject: false });
  if (res.exitCode !== 0) {
    throw new OperationalError(
      `cannot read the control file of ${file}: ${res.stderr.trim()}. ` +
        'Is it a valid .deb? Rebuild it with `npm run release`.',
      'deb_control',
    );
  }

  const stanza = withoutRepositoryFields(
    res.stdout.endsWith('\n') ? res.stdout : `${res.stdout}\n`,
  );
  const field = (name: string) => new RegExp(`^${name}: *(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
  const [pkg, version, architecture] = [field('Package'), field('Version'), field('Architecture')];
  if (!pkg || !version || !architecture) {
    throw new OperationalError(
      `${file} lacks Package, Version or Architecture in its control file; fix the package.`,
      'deb_control',
    );
  }
  assertPolicyNames(file, pkg, version, architecture);
  return { package: pkg, version, architecture, stanza };
}

// Debian policy 5.6.1, 5.6.12 and the architecture names: anything else could steer the
// pool path (`pool/main/<p>/<package>/...`) out of the repository.
const NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const VERSION = /^(\d+:)?[0-9][A-Za-z0-9.+~-]*$/;
const ARCH = /^[a-z0-9][a-z0-9-]*$/;

function assertPolicyNames(file: string, pkg: string, version: string, arch: string): void {
  if (NAME.test(pkg) && VERSION.test(version) && ARCH.test(arch)) return;
  throw new OperationalError(
    `${file} declares Package "${pkg}", Version "${version}", Architecture "${arch}", ` +
      'which Debian policy does not allow; refusing to publish it. Rebuild the package.',
    'deb_control',
  );
}

/**
 * The index supplies where the file is and its hashes; a package that declares such fields
 * itself would otherwise put a second, forged Filename or SHA256 into Packages.
 */
function withoutRepositoryFields(stanza: string): string {
  const reserved = /^(Filename|Size|MD5sum|SHA1|SHA256|SHA512|Description-md5):/i;
  const out: string[] = [];
  let skipping = false;
  for (const line of stanza.split('\n')) {
    if (/^\s/.test(line) && line !== '') {
      if (!skipping) out.push(line);
      continue;
    }
    skipping = reserved.test(line);
    if (!skipping) out.push(line);
  }
  return out.join('\n');
}

/** Pool path Debian-style: pool/main/<first letter>/<package>/<package>_<ver>_<arch>.deb. */
export function poolPath(control: DebControl): string {
  const version = control.version.replace(/^\d+:/, '');
  const file = `${control.package}_${version}_${control.architecture}.deb`;
  return `pool/main/${control.package[0]}/${control.package}/${file}`;
}
