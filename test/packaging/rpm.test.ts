import { execa } from 'execa';
import fs from 'node:fs';
import { beforeAll, expect, it } from 'vitest';
import { describeWithTools } from '../support/tools.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';

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

  it('has scriptlets that create the user and dirs and never start an unregistered agent', async () => {
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
