import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithTools } from '../support/tools.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';
import { createChroot, type Chroot } from './debian-chroot.ts';

describeWithTools('.rpm package', ['rpm', 'rpmbuild', 'rpmlint'], () => {
  let rpm: string;
  let sourceDateEpoch: number;

  beforeAll(async () => {
    const built = await ensureArtifacts(['rpm']);
    rpm = built.files.rpm[0];
    sourceDateEpoch = built.sourceDateEpoch;
  });

  it('carries the product metadata and a fixed build host and time', async () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    const q = (tag: string) =>
      execa('rpm', ['-qp', '--qf', `%{${tag}}`, rpm]).then((r) => r.stdout);
    expect(await q('NAME')).toBe(pkg.name);
    expect(await q('VERSION')).toBe(pkg.version);
    expect(await q('LICENSE')).toBe(pkg.license);
    expect(await q('URL')).toBe(pkg.homepage);
    expect(await q('PACKAGER')).toBe(pkg.certagent.maintainer);
    expect(await q('BUILDHOST')).toBe('reproducible.certagent.invalid');
    expect(await q('BUILDTIME')).toBe(String(sourceDateEpoch));
    expect((await execa('rpm', ['-qip', rpm])).stdout).toContain('Summary     : TLS certificate');
  });

  it('installs the same layout as the .deb, systemd unit under /usr/lib', async () => {
    const { stdout } = await execa('rpm', ['-qlp', rpm]);
    expect(stdout.split('\n').sort()).toEqual(
      [
        '/etc/rc.d/init.d/certagent',
        '/opt/certagent',
        '/opt/certagent/certagent',
        '/opt/certagent/certagent-config',
        '/opt/certagent/install-kind',
        '/usr/bin/certagent',
        '/usr/bin/certagent-config',
        '/usr/lib/systemd/system/certagent.service',
        '/usr/share/man/man8/certagent-config.8.gz',
        '/usr/share/man/man8/certagent.8.gz',
      ].sort(),
    );
  });

  it(
    'has scriptlets that create the user and ' + 'dirs and never start an unregistered agent',
    async () => {
      const { stdout } = await execa('rpm', ['-qp', '--scripts', rpm]);
      expect(stdout).toMatch(/preinstall scriptlet[\s\S]*useradd --system/);
      expect(stdout).toMatch(/postinstall scriptlet[\s\S]*certagent_create_dirs/);
      expect(stdout).toContain('systemctl try-restart certagent.service');
      const post = stdout.slice(
        stdout.indexOf('postinstall scriptlet'),
        stdout.indexOf('preuninstall'),
      );
      // The scriptlet's own steps follow the inlined function library.
      const steps = post.slice(post.search(/^certagent_create_dirs$/m));
      expect(steps).toContain('systemctl enable certagent.service');
      expect(steps).not.toMatch(/systemctl start|certagent_service_start/);
    },
  );

  it('registers the SysVinit script with chkconfig only where systemd does not run', async () => {
    const { stdout } = await execa('rpm', ['-qp', '--scripts', rpm]);
    const scriptlet = (name: string) => {
      const start = stdout.indexOf(`${name} scriptlet`);
      const end = stdout.indexOf(' scriptlet (', start + name.length + 10);
      const text = stdout.slice(start, end === -1 ? undefined : end);
      // Only the scriptlet's own steps: they come after the inlined function library.
      return text.slice(text.lastIndexOf('\n}\n'));
    };
    expect(scriptlet('postinstall')).toMatch(
      new RegExp(
        String.raw`if certagent_has_systemd; then[\s\S]*systemctl enable[\s\S]*elif ` +
          String.raw`command -v chkconfig[^\n]*\n\s*chkconfig --add certagent`,
      ),
    );
    expect(scriptlet('preuninstall')).toMatch(
      new RegExp(
        String.raw`certagent_service_stop[\s\S]*systemctl disable[\s\S]*elif command -v ` +
          String.raw`chkconfig[^\n]*\n\s*chkconfig --del certagent`,
      ),
    );
    expect(scriptlet('postuninstall')).toMatch(/\$1" -ge 1[\s\S]*certagent_service_try_restart/);
    const { stdout: mode } = await execa('rpm', ['-qp', '--dump', rpm]);
    expect(mode).toMatch(/^\/etc\/rc\.d\/init\.d\/certagent \d+ \d+ [0-9a-f]+ 0100755 /m);
  });

  it('requires the shared libraries the runtime links, found by rpm itself', async () => {
    const { stdout } = await execa('rpm', ['-qp', '--requires', rpm]);
    expect(stdout).toContain('libstdc++.so.6()(64bit)');
    expect(stdout).toContain('libc.so.6(GLIBC_2.28)(64bit)');
    expect(stdout).toContain('shadow-utils');
  });

  it('passes rpmlint with no errors', async () => {
    const res = await execa('rpmlint', ['-r', 'packaging/rpm/certagent.rpmlintrc', rpm], {
      reject: false,
    });
    const errors = res.stdout.split('\n').filter((l) => / E: /.test(l));
    expect(errors).toEqual([]);
    expect(res.stdout).toMatch(/\b0 errors\b/);
  });

  it('is refused by rpm -K once a byte is flipped', async () => {
    const ok = await execa('rpm', ['-K', '--nosignature', rpm], { reject: false });
    expect(ok.exitCode).toBe(0);
    const bad = `/tmp/certagent-flipped-${process.pid}.rpm`;
    const bytes = fs.readFileSync(rpm);
    bytes[bytes.length - 5000] ^= 0x01;
    fs.writeFileSync(bad, bytes);
    const res = await execa('rpm', ['-K', '--nosignature', bad], { reject: false });
    fs.rmSync(bad);
    expect(res.exitCode).not.toBe(0);
  });
});

// The scriptlets run for real: rpm --root installs into a Debian chroot (rpm chroots for
// them), where stand-ins for chkconfig and systemctl record what they were asked to do.
describeWithTools('.rpm scriptlets in a chroot', ['rpm', 'debootstrap', 'chroot'], () => {
  let rpm: string;
  let chroot: Chroot;
  const calls = (tool: string) => {
    const log = path.join(chroot.root, 'tmp', `${tool}.log`);
    return fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
  };
  const rpmIn = (args: string[]) =>
    execa('rpm', ['--root', chroot.root, ...args], { reject: false, env: { LC_ALL: 'C' } });

  beforeAll(async () => {
    [rpm, chroot] = await Promise.all([
      ensureArtifacts(['rpm']).then((b) => b.files.rpm[0]),
      createChroot('rpm'),
    ]);
    for (const tool of ['chkconfig', 'systemctl']) {
      const stub = path.join(chroot.root, 'usr/sbin', tool);
      fs.writeFileSync(stub, `#!/bin/sh\necho "$*" >>/tmp/${tool}.log\n`, { mode: 0o755 });
    }
    await rpmIn(['--initdb']);
  });

  afterAll(async () => {
    await chroot?.dispose();
  });

  describe('without systemd', () => {
    it('installs, registers the init script with chkconfig and starts nothing', async () => {
      const res = await rpmIn(['-i', '--nodeps', rpm]);
      expect(res.exitCode, res.stderr).toBe(0);
      expect(calls('chkconfig')).toBe('--add certagent\n');
      expect(calls('systemctl')).toBe('');
      expect(fs.statSync(path.join(chroot.root, 'etc/rc.d/init.d/certagent')).mode & 0o777).toBe(
        0o755,
      );
      expect((await chroot.run(['getent', 'passwd', 'certagent'])).exitCode).toBe(0);
      const status = await chroot.run(['/etc/rc.d/init.d/certagent', 'status']);
      expect(status.exitCode).toBe(3);
      expect(fs.existsSync(path.join(chroot.root, 'run/certagent.pid'))).toBe(false);
    });

    it('on erase stops and unregisters the service, keeps /var/opt/certagent', async () => {
      fs.writeFileSync(path.join(chroot.root, 'var/opt/certagent/conf/keep-me'), 'admin data');
      const res = await rpmIn(['-e', 'certagent']);
      expect(res.exitCode, res.stderr).toBe(0);
      expect(calls('chkconfig')).toBe('--add certagent\n--del certagent\n');
      expect(fs.existsSync(path.join(chroot.root, 'opt/certagent/certagent'))).toBe(false);
      expect(fs.existsSync(path.join(chroot.root, 'etc/rc.d/init.d/certagent'))).toBe(false);
      expect(fs.existsSync(path.join(chroot.root, 'var/opt/certagent/conf/keep-me'))).toBe(true);
    });
  });

  describe('with systemd running', () => {
    it('enables the unit, never starts it, and leaves chkconfig alone', async () => {
      fs.mkdirSync(path.join(chroot.root, 'run/systemd/system'), { recursive: true });
      const res = await rpmIn(['-i', '--nodeps', rpm]);
      expect(res.exitCode, res.stderr).toBe(0);
      expect(calls('systemctl')).toContain('enable certagent.service');
      expect(calls('systemctl')).not.toMatch(/^(start|restart)/m);
      expect(calls('chkconfig')).toBe('--add certagent\n--del certagent\n');

      const erase = await rpmIn(['-e', 'certagent']);
      expect(erase.exitCode, erase.stderr).toBe(0);
      expect(calls('systemctl')).toMatch(/^stop certagent\.service$/m);
      expect(calls('systemctl')).toMatch(/^disable certagent\.service$/m);
      expect(calls('chkconfig')).toBe('--add certagent\n--del certagent\n');
    });
  });
});
