import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';

import { signCleartext, signDetached, type ReleaseKeys } from '../../repo-publish/keys/index.ts';
import type { StaticServer } from '../../repo-publish/site/static-server.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';
import { describeWithTools } from '../support/tools.ts';
import { ensureBookwormChroot, inChroot } from './support/debian-chroot.ts';
import { copySite, makeDist, makeKeys, publish, realPath, serve } from './support/site-fixture.ts';

const KEYRING = '/usr/share/keyrings/certagent-archive-keyring.gpg';
const SUITE = 'apt-bookworm/dists/bookworm';
const TOOLS = ['debootstrap', 'chroot', 'dpkg-deb', 'gpg', 'xz', 'createrepo_c', 'cp'];

describeWithTools('apt installs from the published site (bookworm chroot)', TOOLS, () => {
  let work: string;
  let root: string;
  let site: string;
  let keys: ReleaseKeys;
  const servers: StaticServer[] = [];

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-apt-'));
    root = await ensureBookwormChroot();
    keys = await makeKeys(['current']);
    site = path.join(work, 'site');
    const opts = { codenames: ['bookworm'] };
    await publish(await makeDist(work, '0.0.1', ['deb']), site, keys, opts);
    await publish(await makeDist(work, '0.0.2', ['deb']), site, keys, opts);
  });

  afterAll(async () => {
    for (const s of servers) await s.close();
    if (root) await inChroot(root, ['dpkg', '--purge', 'certagent']);
    fs.rmSync(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await inChroot(root, ['dpkg', '--purge', 'certagent']);
    fs.rmSync(path.join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
    fs.mkdirSync(path.join(root, 'var/lib/apt/lists/partial'), { recursive: true });
    fs.rmSync(path.join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    fs.mkdirSync(path.join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  });

  /** Serves `dir`, trusts `armoredKey` (default: the site's own key file) as an admin would. */
  async function configureApt(dir: string, armoredKey?: string): Promise<void> {
    const server = await serve(dir);
    servers.push(server);
    const key = armoredKey ?? (await (await fetch(`${server.url}/linux/apt-sign.gpg`)).text());

    const ring = path.join(root, KEYRING);
    await execa('gpg', ['--batch', '--yes', '--dearmor', '-o', ring], { input: key });
    fs.chmodSync(ring, 0o644);
    fs.writeFileSync(
      path.join(root, 'etc/apt/sources.list.d/certagent.list'),
      `deb [signed-by=${KEYRING}] ${server.url}/apt-bookworm bookworm main\n`,
    );
  }

  // No pty in the chroot: without Use-Pty=0 dpkg logs an error line for the missing /dev/pts.
  const apt = (...args: string[]) =>
    inChroot(root, ['apt-get', '-q', '-o', 'Dpkg::Use-Pty=0', ...args]);

  it(
    'installs the newest version with a signed-by ' + 'keyring, and the installed program runs',
    async () => {
      await configureApt(site);
      const update = await apt('update');
      expect(update.all).not.toMatch(/^(W|E):/m);
      expect(update.exitCode).toBe(0);

      expect((await apt('install', '-y', 'certagent')).exitCode).toBe(0);
      expect((await inChroot(root, ['certagent'])).stdout).toBe('certagent 0.0.2');
    },
  );

  it('keeps the first version installable by version after the second publish', async () => {
    await configureApt(site);
    expect((await apt('update')).exitCode).toBe(0);
    const policy = await inChroot(root, ['apt-cache', 'madison', 'certagent']);
    expect(policy.stdout).toMatch(/0\.0\.1/);
    expect(policy.stdout).toMatch(/0\.0\.2/);

    expect((await apt('install', '-y', 'certagent=0.0.1')).exitCode).toBe(0);
    expect((await inChroot(root, ['certagent'])).stdout).toBe('certagent 0.0.1');
  });

  it('refuses a changed Packages index', async () => {
    const copy = await copySite(site, path.join(work, 'tampered-packages'));
    const dir = path.dirname(realPath(copy, `${SUITE}/main/binary-amd64/Packages`));
    const forged = fs
      .readFileSync(path.join(dir, 'Packages'), 'utf8')
      .replace(/Description: .*/g, 'Description: evil');
    await rewriteIndexes(dir, forged);

    await configureApt(copy);
    const update = await apt('update');
    expect(update.exitCode).not.toBe(0);
    expect(update.all).toMatch(/Hash Sum mismatch|File has unexpected size/);
  });

  it('refuses a changed .deb in the pool', async () => {
    const copy = await copySite(site, path.join(work, 'tampered-deb'));
    const deb = realPath(copy, 'apt-bookworm/pool/main/c/certagent/certagent_0.0.2_amd64.deb');
    const bytes = fs.readFileSync(deb);
    bytes[bytes.length - 10] ^= 0xff;
    fs.rmSync(deb);
    fs.writeFileSync(deb, bytes);

    await configureApt(copy);
    expect((await apt('update')).exitCode).toBe(0);
    const install = await apt('install', '-y', 'certagent');
    expect(install.exitCode).not.toBe(0);
    expect(install.all).toMatch(/Hash Sum mismatch|unexpected size/);
    expect((await inChroot(root, ['dpkg', '-s', 'certagent'])).exitCode).not.toBe(0);
  });

  it('refuses metadata signed by another key', async () => {
    const copy = await copySite(site, path.join(work, 'other-key'));
    const other = await makeKeys(['intruder']);
    await resign(copy, other);

    await configureApt(copy);
    const update = await apt('update');
    expect(update.exitCode).not.toBe(0);
    expect(update.all).toMatch(/NO_PUBKEY|not signed|signatures couldn't be verified/);
  });

  it('refuses an InRelease edited after signing', async () => {
    const copy = await copySite(site, path.join(work, 'edited-inrelease'));
    const file = realPath(copy, `${SUITE}/InRelease`);
    const edited = fs.readFileSync(file, 'utf8').replace('Label: certagent', 'Label: evil');
    fs.rmSync(file);
    fs.writeFileSync(file, edited);

    await configureApt(copy);
    const update = await apt('update');
    expect(update.exitCode).not.toBe(0);
    expect(update.all).toMatch(/BADSIG|invalid signature|not signed/);
  });

  it('during a key rotation either key alone verifies the repository', async () => {
    const rotated = path.join(work, 'rotated');
    const both = await makeKeys(['old', 'new']);
    await publish(await makeDist(work, '0.0.3', ['deb']), rotated, both, {
      codenames: ['bookworm'],
    });

    for (const key of both.signing) {
      await configureApt(rotated, key.armoredPublicKey);
      const update = await apt('update');
      expect(update.all).not.toMatch(/^(W|E):/m);
      expect(update.exitCode).toBe(0);
    }
  });

  // The real release .deb (built once per source state by the release toolchain).
  it(
    'installs the real release .deb from the ' + 'signed repository, intact, and the agent runs',
    async () => {
      const built = await ensureArtifacts(['deb']);
      const dist = fs.mkdtempSync(path.join(work, 'real-dist-'));
      for (const deb of built.files.deb!) fs.copyFileSync(deb, path.join(dist, path.basename(deb)));
      const version = (await execa('dpkg-deb', ['-f', built.files.deb![0]!, 'Version'])).stdout;

      const real = path.join(work, 'real-site');
      await publish(dist, real, keys, { codenames: ['bookworm'] });
      await configureApt(real);
      expect((await apt('update')).exitCode).toBe(0);
      const install = await apt('install', '-y', 'certagent');
      expect(install.all).not.toMatch(/^E:/m);
      expect(install.exitCode).toBe(0);

      const status = await inChroot(root, [
        'dpkg-query',
        '-W',
        '-f',
        '${Status} ${Version}',
        'certagent',
      ]);
      expect(status.stdout).toBe(`install ok installed ${version}`);
      // dpkg's own check of every installed file against the package's md5sums.
      const verify = await inChroot(root, ['dpkg', '--verify', 'certagent']);
      expect(verify.all).toBe('');
      expect(verify.exitCode).toBe(0);

      const agent = await inChroot(root, ['certagent', 'version']);
      expect(agent.exitCode).toBe(0);
      expect(agent.stdout).toMatch(
        new RegExp(`^certagent ${version.replace(/-\\d+$/, '').replaceAll('.', '\\.')} `),
      );
    },
    1_500_000,
  );

  /** Writes a forged Packages in all three forms, also under by-hash, as an attacker would. */
  async function rewriteIndexes(dir: string, text: string): Promise<void> {
    const xz = await execa('xz', ['-c'], { input: Buffer.from(text), encoding: 'buffer' });
    const forms: Record<string, Buffer> = {
      Packages: Buffer.from(text),
      'Packages.gz': (await import('node:zlib')).gzipSync(text),
      'Packages.xz': Buffer.from(xz.stdout),
    };
    const byHash = path.join(dir, 'by-hash', 'SHA256');
    for (const hashName of fs.readdirSync(byHash)) fs.rmSync(path.join(byHash, hashName));
    for (const [name, data] of Object.entries(forms)) {
      const file = path.join(dir, name);
      const published = (await import('node:crypto')).createHash('sha256');
      published.update(fs.readFileSync(file));
      fs.rmSync(file);
      fs.writeFileSync(file, data);
      fs.writeFileSync(path.join(byHash, published.digest('hex')), data);
    }
  }

  async function resign(copy: string, by: ReleaseKeys): Promise<void> {
    const dist = path.dirname(realPath(copy, `${SUITE}/Release`));
    const release = fs.readFileSync(path.join(dist, 'Release'), 'utf8');
    for (const name of ['InRelease', 'Release.gpg']) fs.rmSync(path.join(dist, name));
    fs.writeFileSync(path.join(dist, 'InRelease'), await signCleartext(by, release));
    fs.writeFileSync(path.join(dist, 'Release.gpg'), await signDetached(by, release));
  }
});
