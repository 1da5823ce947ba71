import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithTools } from '../support/tools.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';
import { createChroot, type Chroot } from './debian-chroot.ts';

const TOOLS = ['dpkg-deb', 'lintian', 'debootstrap', 'chroot', 'xz'];

describeWithTools('.deb package', TOOLS, () => {
  let deb: string;

  beforeAll(async () => {
    deb = (await ensureArtifacts(['deb'])).files.deb[0];
  });

  it('carries the product metadata from package.json in its control file', async () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    const { stdout } = await execa('dpkg-deb', ['-f', deb]);
    expect(stdout).toContain(`Package: ${pkg.name}`);
    expect(stdout).toContain(`Version: ${pkg.version}`);
    expect(stdout).toContain(`Maintainer: ${pkg.certagent.maintainer}`);
    expect(stdout).toContain(`Homepage: ${pkg.homepage}`);
    expect(stdout).toMatch(/^Architecture: amd64$/m);
  });

  it('lays out /opt/certagent, the services, the man pages, all owned by root', async () => {
    const { stdout } = await execa('dpkg-deb', ['-c', deb]);
    const entries = stdout.split('\n');
    const find = (p: string) =>
      entries.find((l) => l.endsWith(` ./${p}`) || l.includes(` ./${p} -> `));
    expect(find('opt/certagent/certagent')).toMatch(/^-rwxr-xr-x root\/root/);
    expect(find('opt/certagent/certagent-config')).toContain('-> certagent');
    expect(find('opt/certagent/install-kind')).toBeDefined();
    expect(find('usr/bin/certagent')).toContain('-> /opt/certagent/certagent');
    expect(find('lib/systemd/system/certagent.service')).toBeDefined();
    expect(find('etc/init.d/certagent')).toMatch(/^-rwxr-xr-x root\/root/);
    expect(find('usr/share/man/man8/certagent.8.gz')).toBeDefined();
    expect(entries.every((l) => l.includes(' root/root '))).toBe(true);
    // Configuration is made by postinst, never shipped: an upgrade cannot overwrite it.
    expect(entries.some((l) => l.includes('./var/opt/certagent/conf'))).toBe(false);
  });

  it(
    'marks the init script as a conffile and ' + 'has maintainer scripts that create the user',
    async () => {
      const dir = fs.mkdtempSync('/tmp/certagent-deb-control-');
      await execa('dpkg-deb', ['-e', deb, dir]);
      expect(fs.readFileSync(path.join(dir, 'conffiles'), 'utf8')).toBe('/etc/init.d/certagent\n');
      expect(fs.readFileSync(path.join(dir, 'postinst'), 'utf8')).toContain('useradd --system');
      expect(fs.readFileSync(path.join(dir, 'postrm'), 'utf8')).toContain('"$1" = "purge"');
      fs.rmSync(dir, { recursive: true });
    },
  );

  it('passes lintian with no errors and no warnings', async () => {
    const res = await execa('lintian', ['--no-cfg', '--fail-on', 'error,warning', deb], {
      reject: false,
    });
    const findings = res.stdout.split('\n').filter((l) => /^[EW]: /.test(l));
    expect(findings).toEqual([]);
    expect(res.exitCode).toBe(0);
  }, 600_000);

  describeWithTools('installed with dpkg in a Debian chroot', ['debootstrap'], () => {
    let chroot: Chroot;

    beforeAll(async () => {
      chroot = await createChroot('deb');
      fs.copyFileSync(deb, path.join(chroot.root, 'tmp', 'certagent.deb'));
    });
    afterAll(async () => chroot?.dispose());

    it('installs, creates the user and the private conf/ and logs/, and runs', async () => {
      const install = await chroot.run(['dpkg', '-i', '/tmp/certagent.deb']);
      expect(install.exitCode, install.stderr).toBe(0);
      expect(install.stderr).not.toContain('could not create the local-store');

      expect((await chroot.run(['getent', 'passwd', 'certagent'])).stdout).toContain(
        '/usr/sbin/nologin',
      );
      for (const dir of ['conf', 'logs']) {
        const st = (await chroot.run(['stat', '-c', '%a %U %G', `/var/opt/certagent/${dir}`]))
          .stdout;
        expect(st).toBe('750 certagent certagent');
      }
      expect(fs.readFileSync(path.join(chroot.root, 'opt/certagent/install-kind'), 'utf8')).toBe(
        'deb\n',
      );

      const version = await chroot.run(['certagent', 'version']);
      expect(version.exitCode).toBe(0);
      expect(version.stdout).toMatch(/^certagent \d+\.\d+\.\d+ \(commit [0-9a-f]{40}/);
      // `status` belongs to the agent-core work; checked once that command is in the build.
      const help = await chroot.run(['certagent', '--help']);
      if (/^\s+status\b/m.test(help.stdout)) {
        const status = await chroot.run(['certagent', 'status']);
        expect(status.exitCode, status.stderr).toBe(0);
        expect(status.stdout).toMatch(/not registered/);
      }
    });

    it('keeps configuration across an upgrade to a newer version', async () => {
      const newer = await repackWithVersion(deb, '99.0.0', chroot.root);
      fs.writeFileSync(path.join(chroot.root, 'var/opt/certagent/conf/keep-me'), 'admin data');

      const upgrade = await chroot.run(['dpkg', '-i', `/tmp/${path.basename(newer)}`]);
      expect(upgrade.exitCode, upgrade.stderr).toBe(0);
      expect(upgrade.stdout).toContain('Unpacking certagent (99.0.0) over');
      expect(
        fs.readFileSync(path.join(chroot.root, 'var/opt/certagent/conf/keep-me'), 'utf8'),
      ).toBe('admin data');
    });

    it('keeps configuration on remove and deletes it, and the user, only on purge', async () => {
      const remove = await chroot.run(['dpkg', '--remove', 'certagent']);
      expect(remove.exitCode, remove.stderr).toBe(0);
      expect(fs.existsSync(path.join(chroot.root, 'opt/certagent/certagent'))).toBe(false);
      expect(fs.existsSync(path.join(chroot.root, 'var/opt/certagent/conf/keep-me'))).toBe(true);

      const purge = await chroot.run(['dpkg', '--purge', 'certagent']);
      expect(purge.exitCode, purge.stderr).toBe(0);
      expect(fs.existsSync(path.join(chroot.root, 'var/opt/certagent'))).toBe(false);
      expect(fs.existsSync(path.join(chroot.root, 'etc/init.d/certagent'))).toBe(false);
      expect((await chroot.run(['getent', 'passwd', 'certagent'])).exitCode).not.toBe(0);
    });

    it('refuses a .deb whose data was tampered with', async () => {
      const bad = path.join(chroot.root, 'tmp', 'tampered.deb');
      const bytes = fs.readFileSync(deb);
      bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      fs.writeFileSync(bad, bytes);
      const res = await chroot.run(['dpkg', '-i', '/tmp/tampered.deb']);
      expect(res.exitCode).not.toBe(0);
      expect(fs.existsSync(path.join(chroot.root, 'opt/certagent/certagent'))).toBe(false);
    });
  });
});

// A real version bump without a second release build: unpack, edit Version, repack.
async function repackWithVersion(deb: string, version: string, root: string): Promise<string> {
  const dir = fs.mkdtempSync('/tmp/certagent-deb-repack-');
  await execa('dpkg-deb', ['-R', deb, dir]);
  const control = path.join(dir, 'DEBIAN', 'control');
  fs.writeFileSync(
    control,
    fs.readFileSync(control, 'utf8').replace(/^Version: .*$/m, `Version: ${version}`),
  );
  const out = path.join(root, 'tmp', `certagent_${version}_amd64.deb`);
  await execa('dpkg-deb', ['--root-owner-group', '-Znone', '--build', dir, out]);
  fs.rmSync(dir, { recursive: true });
  return out;
}
