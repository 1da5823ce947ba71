import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ReleaseKeys } from '../../repo-publish/keys/index.ts';
import { currentSequence } from '../../repo-publish/site/generations.ts';
import { describeWithTools } from '../support/tools.ts';
import { makeDist, makeKeys, publish, realPath, serve } from './support/site-fixture.ts';
import { buildHostileDeb } from './support/tiny-packages.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TOOLS = ['dpkg-deb', 'rpmbuild', 'rpmsign', 'createrepo_c', 'gpg', 'gpgv', 'xz', 'sha256sum'];
const CODENAMES = ['bullseye', 'bookworm', 'bionic', 'focal', 'jammy', 'noble'];

let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-publish-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

async function keyring(site: string, name: string): Promise<string> {
  const ring = path.join(work, `${name}.gpg`);
  await execa('gpg', [
    '--batch',
    '--yes',
    '--dearmor',
    '-o',
    ring,
    path.join(site, 'linux/apt-sign.gpg'),
  ]);
  return ring;
}

const gpgv = (ring: string, sig: string, data: string) =>
  execa('gpgv', ['--keyring', ring, sig, data], { reject: false });

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

describeWithTools('publish: the signed site tree', TOOLS, () => {
  let keys: ReleaseKeys;
  let site: string;

  beforeAll(async () => {
    keys = await makeKeys(['layout']);
    site = path.join(work, 'layout');
    const dist = await makeDist(work, '1.2.0', ['deb', 'rpm', 'msi', 'bin', 'exe']);
    await publish(dist, site, keys, { baseUrl: 'http://127.0.0.1:8080/dist/' });
  });

  it('has one signed APT repository per supported codename', async () => {
    const ring = await keyring(site, 'layout');
    for (const codename of CODENAMES) {
      const dist = path.join(site, `apt-${codename}/dists/${codename}`);
      const release = fs.readFileSync(path.join(dist, 'Release'), 'utf8');
      expect(release).toMatch(new RegExp(`^Suite: ${codename}$`, 'm'));
      expect(release).toMatch(/^Components: main$/m);
      expect(release).toMatch(/^ [0-9a-f]{64} +\d+ main\/binary-amd64\/Packages\.xz$/m);
      expect(
        (await gpgv(ring, path.join(dist, 'Release.gpg'), path.join(dist, 'Release'))).exitCode,
      ).toBe(0);
      expect(
        (await execa('gpgv', ['--keyring', ring, path.join(dist, 'InRelease')], { reject: false }))
          .exitCode,
      ).toBe(0);
      expect(
        fs.existsSync(
          path.join(site, `apt-${codename}/pool/main/c/certagent/certagent_1.2.0_amd64.deb`),
        ),
      ).toBe(true);
    }
  });

  it('shares one copy of a .deb between the codenames (hard links)', () => {
    const pool = (c: string) =>
      path.join(site, `apt-${c}/pool/main/c/certagent/certagent_1.2.0_amd64.deb`);
    const inodes = new Set(CODENAMES.map((c) => fs.statSync(pool(c)).ino));
    expect(inodes.size).toBe(1);
  });

  it('publishes an armoured key apt can dearmor, with its fingerprint beside it', async () => {
    const armored = fs.readFileSync(path.join(site, 'linux/apt-sign.gpg'), 'utf8');
    expect(armored).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(armored).not.toMatch(/PRIVATE/);
    const shown = await execa('gpg', [
      '--batch',
      '--show-keys',
      '--with-colons',
      path.join(site, 'linux/apt-sign.gpg'),
    ]);
    expect(shown.stdout).toContain(`fpr:::::::::${keys.signing[0]!.fingerprint}:`);
    expect(fs.readFileSync(path.join(site, 'linux/apt-sign.fingerprint'), 'utf8')).toBe(
      `${keys.signing[0]!.fingerprint}\n`,
    );
  });

  it('writes a .repo file with every check on and the key URL under --base-url', () => {
    const repo = fs.readFileSync(path.join(site, 'linux/certagent.repo'), 'utf8');
    expect(repo).toMatch(/^baseurl=http:\/\/127\.0\.0\.1:8080\/dist\/linux\/rpm\/$/m);
    expect(repo).toMatch(/^gpgkey=http:\/\/127\.0\.0\.1:8080\/dist\/linux\/apt-sign\.gpg$/m);
    expect(repo).toMatch(/^gpgcheck=1$/m);
    expect(repo).toMatch(/^repo_gpgcheck=1$/m);
  });

  it('signs a Windows manifest that names each MSI with size and SHA-256', async () => {
    const manifest = readJson(path.join(site, 'windows/manifest.json'));
    const msi = path.join(site, 'windows/certagent-1.2.0-x64.msi');
    expect(manifest).toMatchObject({
      schema: 1,
      product: 'certagent',
      sequence: 1,
      version: '1.2.0',
    });
    expect(manifest.files).toEqual([
      {
        kind: 'msi',
        arch: 'x64',
        file: 'certagent-1.2.0-x64.msi',
        size: fs.statSync(msi).size,
        sha256: (await execa('sha256sum', [msi])).stdout.split(' ')[0],
      },
    ]);
    expect(Date.parse(manifest.expires) - Date.parse(manifest.issued)).toBe(30 * 86_400_000);
    expect(fs.existsSync(path.join(site, 'windows/certagent-setup.exe'))).toBe(true);

    const ring = await keyring(site, 'manifest');
    const m = path.join(site, 'windows/manifest.json');
    expect((await gpgv(ring, `${m}.asc`, m)).exitCode).toBe(0);
  });

  it('signs an update feed whose files are paths from the site root', async () => {
    const feed = readJson(path.join(site, 'feed/feed.json'));
    expect(feed).toMatchObject({ schema: 1, product: 'certagent', sequence: 1 });
    expect(feed.platforms['linux-x64']).toMatchObject({
      version: '1.2.0',
      file: 'linux/certagent-1.2.0-linux-x64.bin',
    });
    expect(feed.platforms['win-x64']).toMatchObject({
      version: '1.2.0',
      file: 'windows/certagent-1.2.0-x64.msi',
    });
    for (const entry of Object.values(feed.platforms) as Array<{ file: string; size: number }>) {
      expect(fs.statSync(path.join(site, entry.file)).size).toBe(entry.size);
    }
    const ring = await keyring(site, 'feed');
    const f = path.join(site, 'feed/feed.json');
    expect((await gpgv(ring, `${f}.asc`, f)).exitCode).toBe(0);
  });

  it('covers the whole tree with a signed SHA256SUMS that sha256sum -c accepts', async () => {
    const sums = fs.readFileSync(path.join(site, 'SHA256SUMS'), 'utf8');
    expect(sums).toContain('  windows/manifest.json\n');
    expect(sums).toContain('  linux/rpm/repodata/repomd.xml\n');
    expect(sums).toContain('  apt-noble/dists/noble/InRelease\n');
    const check = await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], {
      cwd: site,
      reject: false,
    });
    expect(check.exitCode).toBe(0);

    const ring = await keyring(site, 'sums');
    expect(
      (await gpgv(ring, path.join(site, 'SHA256SUMS.asc'), path.join(site, 'SHA256SUMS'))).exitCode,
    ).toBe(0);
  });
});

describeWithTools('publish: incremental, atomic, retention', TOOLS, () => {
  let keys: ReleaseKeys;
  const only = { codenames: ['bookworm'] };

  beforeAll(async () => {
    keys = await makeKeys(['incremental']);
  });

  const packagesOf = (site: string) =>
    fs.readFileSync(
      path.join(site, 'apt-bookworm/dists/bookworm/main/binary-amd64/Packages'),
      'utf8',
    );

  it(
    'keeps earlier versions, raises the sequence, ' + 'and keeps old indexes reachable by hash',
    async () => {
      const site = path.join(work, 'incremental');
      await publish(await makeDist(work, '0.0.1', ['deb', 'rpm', 'msi']), site, keys, only);
      const firstPackages = packagesOf(site);
      await publish(await makeDist(work, '0.0.2', ['deb', 'rpm', 'msi']), site, keys, only);

      expect(currentSequence(site)).toBe(2);
      expect(packagesOf(site)).toMatch(/Version: 0\.0\.1[\s\S]*Version: 0\.0\.2/);
      expect(fs.readdirSync(path.join(site, 'linux/rpm/packages')).sort()).toEqual([
        'certagent-0.0.1-1.x86_64.rpm',
        'certagent-0.0.2-1.x86_64.rpm',
      ]);
      const manifest = readJson(path.join(site, 'windows/manifest.json'));
      expect(manifest).toMatchObject({ sequence: 2, version: '0.0.2' });

      const hash = (await execa('sha256sum', ['-'], { input: firstPackages })).stdout.split(
        ' ',
      )[0]!;
      const byHash = path.join(
        site,
        'apt-bookworm/dists/bookworm/main/binary-amd64/by-hash/SHA256',
        hash,
      );
      expect(fs.readFileSync(byHash, 'utf8')).toBe(firstPackages);
    },
  );

  it('--keep drops versions beyond the newest N from pools, indexes and downloads', async () => {
    const site = path.join(work, 'keep');
    for (const v of ['0.0.1', '0.0.2', '0.0.3']) {
      await publish(await makeDist(work, v, ['deb', 'rpm', 'msi', 'bin']), site, keys, {
        ...only,
        keep: 2,
      });
    }
    expect(packagesOf(site)).not.toMatch(/Version: 0\.0\.1/);
    expect(packagesOf(site)).toMatch(/Version: 0\.0\.2[\s\S]*Version: 0\.0\.3/);
    expect(
      fs.existsSync(
        path.join(site, 'apt-bookworm/pool/main/c/certagent/certagent_0.0.1_amd64.deb'),
      ),
    ).toBe(false);
    expect(fs.readdirSync(path.join(site, 'linux/rpm/packages'))).toHaveLength(2);
    expect(
      fs
        .readdirSync(path.join(site, 'windows'))
        .filter((n) => n.endsWith('.msi'))
        .sort(),
    ).toEqual(['certagent-0.0.2-x64.msi', 'certagent-0.0.3-x64.msi']);
    expect(fs.existsSync(path.join(site, 'linux/certagent-0.0.1-linux-x64.bin'))).toBe(false);
  });

  it(
    'refuses to republish a version with ' + 'different content and leaves the site as it was',
    async () => {
      const site = path.join(work, 'conflict');
      await publish(await makeDist(work, '0.0.1', ['msi']), site, keys, only);
      const before = realPath(site, 'windows/manifest.json');

      const changed = await makeDist(work, '0.0.1', []);
      fs.writeFileSync(path.join(changed, 'certagent-0.0.1-x64.msi'), 'different bytes');
      await expect(publish(changed, site, keys, only)).rejects.toThrow(
        /differs from the file .*Bump the version/,
      );

      expect(realPath(site, 'windows/manifest.json')).toBe(before);
      expect(currentSequence(site)).toBe(1);
      expect(
        fs.readdirSync(path.join(site, '.generations')).filter((n) => n.endsWith('.building')),
      ).toEqual([]);
    },
  );

  it('a publish that fails half-way (a corrupt .deb) never touches the served tree', async () => {
    const site = path.join(work, 'atomic');
    await publish(await makeDist(work, '0.0.1', ['deb']), site, keys, only);
    const served = packagesOf(site);

    const broken = await makeDist(work, '0.0.2', []);
    fs.writeFileSync(path.join(broken, 'certagent_0.0.2_amd64.deb'), 'not an ar archive');
    await expect(publish(broken, site, keys, only)).rejects.toThrow(
      /cannot read the control file of .*certagent_0\.0\.2_amd64\.deb/,
    );

    expect(packagesOf(site)).toBe(served);
    expect(currentSequence(site)).toBe(1);
  });

  it('refuses a .deb whose name would steer its pool path out of the repository', async () => {
    const site = path.join(work, 'hostile-name');
    const dist = await makeDist(work, '0.0.1', []);
    await buildHostileDeb(dist, 'certagent_0.0.1_amd64.deb', [
      'Package: ../../../escape',
      'Version: 0.0.1',
      'Architecture: amd64',
      'Maintainer: x <x@certagent.invalid>',
      'Description: hostile',
    ]);
    await expect(publish(dist, site, keys, only)).rejects.toThrow(
      /Package "\.\.\/\.\.\/\.\.\/escape".*Debian policy/,
    );
    expect(fs.existsSync(path.join(work, 'escape'))).toBe(false);
    expect(currentSequence(site)).toBeNull();
  });

  it('indexes its own Filename and hashes, never those a package declares', async () => {
    const site = path.join(work, 'hostile-fields');
    const dist = await makeDist(work, '0.0.1', []);
    await buildHostileDeb(dist, 'certagent_0.0.1_amd64.deb', [
      'Package: certagent',
      'Version: 0.0.1',
      'Architecture: amd64',
      'Maintainer: x <x@certagent.invalid>',
      'Filename: pool/main/e/evil/evil.deb',
      `SHA256: ${'0'.repeat(64)}`,
      'Description: forged fields',
    ]);
    await publish(dist, site, keys, only);

    const packages = packagesOf(site);
    expect(packages.match(/^Filename:/gm)).toHaveLength(1);
    expect(packages.match(/^SHA256:/gm)).toHaveLength(1);
    expect(packages).toMatch(/^Filename: pool\/main\/c\/certagent\/certagent_0\.0\.1_amd64\.deb$/m);
    expect(packages).not.toContain('0'.repeat(64));
  });

  it('keeps two previous generations for readers mid-download, and no more', async () => {
    const site = path.join(work, 'generations');
    for (const v of ['0.0.1', '0.0.2', '0.0.3', '0.0.4']) {
      await publish(await makeDist(work, v, ['msi']), site, keys, only);
    }
    expect(fs.readdirSync(path.join(site, '.generations')).sort()).toEqual([
      '00000002',
      '00000003',
      '00000004',
      'current',
    ]);
  });

  it('refuses a site directory it does not manage, and swaps nothing', async () => {
    const site = path.join(work, 'foreign');
    fs.mkdirSync(path.join(site, 'linux'), { recursive: true });
    await expect(publish(await makeDist(work, '0.0.1', ['msi']), site, keys, only)).rejects.toThrow(
      /is not managed by publish/,
    );
    expect(fs.readdirSync(site).sort()).toEqual(['.generations', 'linux']);
    expect(fs.readdirSync(path.join(site, '.generations'))).toEqual([]);
  });

  it(
    'refuses to run while another live publish ' + 'holds the lock, and takes over a stale one',
    async () => {
      const site = path.join(work, 'locked');
      fs.mkdirSync(site);
      fs.writeFileSync(path.join(site, '.publish.lock'), String(process.pid));
      const dist = await makeDist(work, '0.0.1', ['msi']);
      await expect(publish(dist, site, keys, only)).rejects.toThrow(/another publish \(pid \d+\)/);

      fs.writeFileSync(path.join(site, '.publish.lock'), '2147483646');
      await publish(dist, site, keys, only);
      expect(currentSequence(site)).toBe(1);
      expect(fs.existsSync(path.join(site, '.publish.lock'))).toBe(false);
    },
  );

  it('during a rotation the key file carries both keys and every signature has both', async () => {
    const both = await makeKeys(['old', 'new']);
    const site = path.join(work, 'rotation');
    await publish(await makeDist(work, '0.0.1', ['msi']), site, both, only);

    const shown = await execa('gpg', [
      '--batch',
      '--show-keys',
      '--with-colons',
      path.join(site, 'linux/apt-sign.gpg'),
    ]);
    for (const k of both.signing) expect(shown.stdout).toContain(`fpr:::::::::${k.fingerprint}:`);
    expect(
      fs.readFileSync(path.join(site, 'linux/apt-sign.fingerprint'), 'utf8').trim().split('\n'),
    ).toHaveLength(2);

    const db = fs.mkdtempSync(path.join(work, 'rpmdb-'));
    await execa('rpm', ['--dbpath', db, '--import', path.join(site, 'linux/apt-sign.gpg')]);
    expect(
      (await execa('rpm', ['--dbpath', db, '-q', 'gpg-pubkey'])).stdout.trim().split('\n'),
    ).toHaveLength(2);

    const m = path.join(site, 'windows/manifest.json');
    const packets = await execa('gpg', ['--batch', '--list-packets', `${m}.asc`]);
    expect(packets.stdout.match(/:signature packet:/g)).toHaveLength(2);
  });
});

describe('npm run publish / serve:dist command lines', () => {
  const tsx = path.join(REPO, 'node_modules/.bin/tsx');

  it.each([
    [['--keep', 'two'], /--keep must be a whole number/],
    [['--base-url', 'ftp://x'], /--base-url must use http or https/],
    [['--codenames', 'sid'], /--codenames accepts .*unknown: sid/],
  ])('rejects bad usage %j with exit 2', async (args, message) => {
    const res = await execa(tsx, ['scripts/publish.ts', ...args], { cwd: REPO, reject: false });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(message);
  });

  it('fails with exit 1 and says what to do when there is nothing to publish', async () => {
    const empty = fs.mkdtempSync(path.join(work, 'empty-dist-'));
    const env = { CERTAGENT_RELEASE_KEY: (await makeKeys(['cli'])).signing[0]!.armoredPrivateKey };
    const res = await execa(
      tsx,
      ['scripts/publish.ts', '--from', empty, '--to', path.join(work, 'cli-site')],
      {
        cwd: REPO,
        reject: false,
        env,
      },
    );
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toMatch(/nothing to publish: .* Run `npm run release` first/);
  });

  it('refuses to publish with an expired release key (exit 1)', async () => {
    const openpgp = await import('openpgp');
    const { privateKey } = await openpgp.generateKey({
      type: 'ecc',
      userIDs: [{ name: 'expired' }],
      keyExpirationTime: 86_400,
      date: new Date(Date.now() - 3 * 86_400_000),
      format: 'armored',
    });
    const dist = await makeDist(work, '0.0.1', ['msi']);
    const res = await execa(
      tsx,
      ['scripts/publish.ts', '--from', dist, '--to', path.join(work, 'cli-expired')],
      {
        cwd: REPO,
        reject: false,
        env: { CERTAGENT_RELEASE_KEY: privateKey },
      },
    );
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toMatch(/expired on .*refusing to sign with it/);
    expect(fs.existsSync(path.join(work, 'cli-expired'))).toBe(false);
  });

  it('prints the signing fingerprint and never the private key', async () => {
    const keys = await makeKeys(['cli-ok']);
    const env = { CERTAGENT_RELEASE_KEY: keys.signing[0]!.armoredPrivateKey };
    const dist = await makeDist(work, '0.0.1', ['msi']);
    const res = await execa(
      tsx,
      [
        'scripts/publish.ts',
        '--from',
        dist,
        '--to',
        path.join(work, 'cli-ok'),
        '--codenames',
        'bookworm',
      ],
      { cwd: REPO, reject: false, env, all: true },
    );
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain(`signing key fingerprint: ${keys.signing[0]!.fingerprint}`);
    expect(res.all).not.toMatch(/PRIVATE KEY/);
  });

  it('has --help for both scripts', async () => {
    for (const script of ['scripts/publish.ts', 'scripts/serve-dist.ts']) {
      const res = await execa(tsx, [script, '--help'], { cwd: REPO });
      expect(res.stdout).toMatch(/^Usage: npm run/);
    }
  });
});

describe('static server for the site', () => {
  it('serves published files, and nothing outside the tree or its bookkeeping', async () => {
    const site = path.join(work, 'static');
    const gen = path.join(site, '.generations/00000001/linux');
    fs.mkdirSync(gen, { recursive: true });
    fs.writeFileSync(path.join(gen, 'apt-sign.gpg'), 'key');
    fs.symlinkSync('.generations/00000001/linux', path.join(site, 'linux'));
    fs.symlinkSync('/etc', path.join(site, 'escape'));
    fs.writeFileSync(path.join(site, '.publish.lock'), '1');

    const server = await serve(site);
    try {
      const get = (p: string, init?: RequestInit) => fetch(`${server.url}${p}`, init);
      expect(await (await get('/linux/apt-sign.gpg')).text()).toBe('key');
      for (const p of [
        '/escape/passwd',
        '/../../etc/passwd',
        '/%2e%2e/%2e%2e/etc/passwd',
        '/.publish.lock',
        '/.generations/00000001/linux/apt-sign.gpg',
        '/linux',
      ]) {
        expect((await get(p)).status, p).toBe(404);
      }
      expect((await get('/linux/apt-sign.gpg', { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });
});
