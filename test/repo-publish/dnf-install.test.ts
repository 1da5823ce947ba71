import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { signDetached, type ReleaseKeys } from '../../repo-publish/keys/index.ts';
import type { StaticServer } from '../../repo-publish/site/static-server.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';
import { describeWithTools } from '../support/tools.ts';
import { copySite, makeDist, makeKeys, publish, realPath, serve } from './support/site-fixture.ts';

const TOOLS = ['dnf', 'rpm', 'rpmbuild', 'rpmsign', 'createrepo_c', 'gpg', 'dpkg-deb', 'xz', 'cp'];
const RPM = 'linux/rpm/packages/certagent-0.0.2-1.x86_64.rpm';

describeWithTools('dnf installs from the published site (--installroot)', TOOLS, () => {
  let work: string;
  let site: string;
  let server: StaticServer;
  let keys: ReleaseKeys;
  const servers: StaticServer[] = [];
  let installs = 0;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-dnf-'));
    keys = await makeKeys(['current']);
    site = path.join(work, 'site');
    fs.mkdirSync(site);
    // Serving first lets the .repo file carry the real loopback URL, as in production.
    server = await serve(site);
    servers.push(server);
    const opts = { codenames: ['bookworm'], baseUrl: server.url };
    await publish(await makeDist(work, '0.0.1', ['rpm']), site, keys, opts);
    await publish(await makeDist(work, '0.0.2', ['rpm']), site, keys, opts);
  });

  afterAll(async () => {
    for (const s of servers) await s.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /**
   * `dnf install` into a fresh root with the site's own .repo file (pointed at `dir`'s
   * server when it is a tampered copy). gpgcheck and repo_gpgcheck come from that file.
   */
  async function dnfInstall(dir: string, spec: string) {
    const case_ = path.join(work, `dnf-${++installs}`);
    for (const sub of ['root', 'repos', 'cache'])
      fs.mkdirSync(path.join(case_, sub), { recursive: true });

    let url = server.url;
    if (dir !== site) {
      const copyServer = await serve(dir);
      servers.push(copyServer);
      url = copyServer.url;
    }
    const repoFile = (await (await fetch(`${url}/linux/certagent.repo`)).text()).replaceAll(
      server.url,
      url,
    );
    fs.writeFileSync(path.join(case_, 'repos', 'certagent.repo'), repoFile);

    const res = await execa(
      'dnf',
      [
        '-y',
        '--noplugins',
        `--installroot=${path.join(case_, 'root')}`,
        '--releasever=12',
        `--setopt=reposdir=${path.join(case_, 'repos')}`,
        `--setopt=cachedir=${path.join(case_, 'cache')}`,
        '--setopt=install_weak_deps=False',
        'install',
        spec,
      ],
      { reject: false, all: true },
    );
    return { ...res, root: path.join(case_, 'root'), repoFile };
  }

  it('installs the newest version with gpgcheck and repo_gpgcheck on', async () => {
    const res = await dnfInstall(site, 'certagent');
    expect(res.repoFile).toMatch(/^gpgcheck=1$/m);
    expect(res.repoFile).toMatch(/^repo_gpgcheck=1$/m);
    expect(res.all).toContain(keys.signing[0]!.fingerprint.slice(-8).match(/.{4}/g)!.join(' '));
    expect(res.exitCode).toBe(0);

    const q = await execa('rpm', ['--root', res.root, '-q', 'certagent']);
    expect(q.stdout).toBe('certagent-0.0.2-1.x86_64');
    expect((await execa(path.join(res.root, 'usr/bin/certagent'))).stdout).toBe('certagent 0.0.2');
  });

  it('installs the first version by version after the second publish', async () => {
    const res = await dnfInstall(site, 'certagent-0.0.1');
    expect(res.exitCode).toBe(0);
    const q = await execa('rpm', ['--root', res.root, '-q', 'certagent']);
    expect(q.stdout).toBe('certagent-0.0.1-1.x86_64');
  });

  it('publishes RPMs that rpm -K accepts with the published key, and only with it', async () => {
    const db = fs.mkdtempSync(path.join(work, 'rpmdb-'));
    const empty = fs.mkdtempSync(path.join(work, 'rpmdb-empty-'));
    const rpm = realPath(site, RPM);

    const unknown = await execa('rpm', ['--dbpath', empty, '-K', rpm], { reject: false });
    expect(unknown.stdout).toMatch(/SIGNATURES NOT OK/);

    await execa('rpm', ['--dbpath', db, '--import', realPath(site, 'linux/apt-sign.gpg')]);
    const checked = await execa('rpm', ['--dbpath', db, '-K', rpm]);
    expect(checked.stdout).toMatch(/digests signatures OK$/);
  });

  // The real release RPM, already signed by the build's key: publish re-signs it with ours.
  it('re-signs the real release RPM so rpm -K passes with the published key', async () => {
    const built = await ensureArtifacts(['rpm']);
    const dist = fs.mkdtempSync(path.join(work, 'real-dist-'));
    for (const rpm of built.files.rpm!) fs.copyFileSync(rpm, path.join(dist, path.basename(rpm)));
    const real = path.join(work, 'real-site');
    await publish(dist, real, keys, { codenames: ['bookworm'] });

    const db = fs.mkdtempSync(path.join(work, 'rpmdb-real-'));
    await execa('rpm', ['--dbpath', db, '--import', path.join(real, 'linux/apt-sign.gpg')]);
    const published = fs.readdirSync(path.join(real, 'linux/rpm/packages'));
    expect(published).toEqual(built.files.rpm!.map((f) => path.basename(f)));
    for (const name of published) {
      const checked = await execa('rpm', [
        '--dbpath',
        db,
        '-Kv',
        path.join(real, 'linux/rpm/packages', name),
      ]);
      expect(checked.stdout).toContain(
        `key ID ${keys.signing[0]!.fingerprint.slice(-8).toLowerCase()}: OK`,
      );
    }
  }, 1_500_000);

  it('refuses a changed .rpm', async () => {
    const copy = await copySite(site, path.join(work, 'tampered-rpm'));
    const file = realPath(copy, RPM);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 20] ^= 0xff;
    fs.rmSync(file);
    fs.writeFileSync(file, bytes);

    const res = await dnfInstall(copy, 'certagent');
    expect(res.exitCode).not.toBe(0);
    expect(res.all).toMatch(/checksum doesn't match/);
    expect(fs.existsSync(path.join(res.root, 'usr/bin/certagent'))).toBe(false);
  });

  it('refuses a changed repomd.xml', async () => {
    const copy = await copySite(site, path.join(work, 'tampered-repomd'));
    const file = realPath(copy, 'linux/rpm/repodata/repomd.xml');
    const edited = fs.readFileSync(file, 'utf8').replace(/<revision>\d+/, '<revision>1');
    expect(edited).not.toBe(fs.readFileSync(file, 'utf8'));
    fs.rmSync(file);
    fs.writeFileSync(file, edited);

    const res = await dnfInstall(copy, 'certagent');
    expect(res.exitCode).not.toBe(0);
    expect(res.all).toMatch(
      /repomd\.xml GPG signature verification error|Bad GPG signature|BADSIG/i,
    );
  });

  it('refuses repository metadata signed by another key', async () => {
    const copy = await copySite(site, path.join(work, 'other-key'));
    const repodata = path.dirname(realPath(copy, 'linux/rpm/repodata/repomd.xml'));
    const intruder = await makeKeys(['intruder']);
    const repomd = fs.readFileSync(path.join(repodata, 'repomd.xml'));
    fs.rmSync(path.join(repodata, 'repomd.xml.asc'));
    fs.writeFileSync(path.join(repodata, 'repomd.xml.asc'), await signDetached(intruder, repomd));

    const res = await dnfInstall(copy, 'certagent');
    expect(res.exitCode).not.toBe(0);
    expect(res.all).toMatch(/repomd\.xml GPG signature verification error/);
  });
});
