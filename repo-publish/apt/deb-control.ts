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

  const stanza = res.stdout.endsWith('\n') ? res.stdout : `${res.stdout}\n`;
  const field = (name: string) => new RegExp(`^${name}: *(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
  const [pkg, version, architecture] = [field('Package'), field('Version'), field('Architecture')];
  if (!pkg || !version || !architecture) {
    throw new OperationalError(
      `${file} lacks Package, Version or Architecture in its control file; fix the package.`,
      'deb_control',
    );
  }
  return { package: pkg, version, architecture, stanza };
}

/** Pool path Debian-style: pool/main/<first letter>/<package>/<package>_<ver>_<arch>.deb. */
export function poolPath(control: DebControl): string {
  const version = control.version.replace(/^\d+:/, '');
  const file = `${control.package}_${version}_${control.architecture}.deb`;
  return `pool/main/${control.package[0]}/${control.package}/${file}`;
}
