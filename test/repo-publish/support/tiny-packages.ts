import fs from 'node:fs';
import path from 'node:path';

import { execa } from 'execa';

/**
 * A tiny `certagent` package for repository mechanics: one shell script that prints its
 * version, installed as /usr/bin/certagent. Real artifacts are too slow to build per test.
 */
function payloadScript(version: string): string {
  return `#!/bin/sh\necho "certagent ${version}"\n`;
}

export async function buildTinyDeb(outDir: string, version: string): Promise<string> {
  const root = fs.mkdtempSync(path.join(outDir, `deb-${version}-`));
  fs.mkdirSync(path.join(root, 'DEBIAN'));
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/bin/certagent'), payloadScript(version), { mode: 0o755 });
  fs.writeFileSync(
    path.join(root, 'DEBIAN/control'),
    [
      'Package: certagent',
      `Version: ${version}`,
      'Architecture: amd64',
      'Maintainer: certagent developers <maintainers@certagent.invalid>',
      'Section: net',
      'Priority: optional',
      'Description: certagent test package',
      ' Repository mechanics only.',
      '',
    ].join('\n'),
  );

  const out = path.join(outDir, `certagent_${version}_amd64.deb`);
  await execa('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, out]);
  fs.rmSync(root, { recursive: true, force: true });
  return out;
}

export async function buildTinyRpm(outDir: string, version: string): Promise<string> {
  const top = fs.mkdtempSync(path.join(outDir, `rpm-${version}-`));
  const spec = path.join(top, 'certagent.spec');
  fs.writeFileSync(
    spec,
    [
      'Name: certagent',
      `Version: ${version}`,
      'Release: 1',
      'Summary: certagent test package',
      'License: Apache-2.0',
      'BuildArch: x86_64',
      // No automatic /bin/sh requirement: the dnf test installs into an empty root.
      'AutoReqProv: no',
      '%description',
      'Repository mechanics only.',
      '%install',
      'mkdir -p %{buildroot}/usr/bin',
      `printf '#!/bin/sh\\necho "certagent ${version}"\\n' > %{buildroot}/usr/bin/certagent`,
      'chmod 0755 %{buildroot}/usr/bin/certagent',
      '%files',
      '/usr/bin/certagent',
      '',
    ].join('\n'),
  );

  await execa('rpmbuild', [
    '-bb',
    '--define',
    `_topdir ${top}`,
    '--define',
    '_build_id_links none',
    '--define',
    'debug_package %{nil}',
    spec,
  ]);
  const built = path.join(top, 'RPMS/x86_64', `certagent-${version}-1.x86_64.rpm`);
  const out = path.join(outDir, path.basename(built));
  fs.renameSync(built, out);
  fs.rmSync(top, { recursive: true, force: true });
  return out;
}

/**
 * A .deb with a control file of our choosing, built with `--nocheck` so dpkg-deb lets
 * through what a hostile or broken build could produce.
 */
export async function buildHostileDeb(
  outDir: string,
  name: string,
  control: string[],
): Promise<string> {
  const root = fs.mkdtempSync(path.join(outDir, 'hostile-'));
  fs.mkdirSync(path.join(root, 'DEBIAN'));
  fs.writeFileSync(path.join(root, 'DEBIAN/control'), `${control.join('\n')}\n`);
  const out = path.join(outDir, name);
  await execa('dpkg-deb', ['--nocheck', '--root-owner-group', '-Zgzip', '--build', root, out]);
  fs.rmSync(root, { recursive: true, force: true });
  return out;
}
