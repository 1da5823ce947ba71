import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { entryFor, type UpdateFeed } from '../../agent/updater/feed.ts';
import { loadUpdateState } from '../../agent/updater/update-state.ts';
import { runUpdate, type UpdaterOptions } from '../../agent/updater/updater.ts';
import {
  createReleaseKey,
  DistHost,
  endless,
  publishSigned,
  trickle,
  type ReleaseKey,
} from '../support/dist-host.ts';
import {
  entryOf,
  feed,
  installBin,
  packRelease,
  updaterOptions,
  type Artifact,
} from './release-fixture.ts';

let host: DistHost;
let key: ReleaseKey;
let intruder: ReleaseKey;
let work: string;
let next: Artifact;
let serviceFile: string;

/** The install every attack runs against: 1.0.0 running, a good 1.1.0 on offer. */
let options: UpdaterOptions;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-attacks-'));
  [key, intruder] = await Promise.all([createReleaseKey(), createReleaseKey('intruder')]);
  host = await new DistHost().start();
});

afterAll(async () => {
  await host.close();
  fs.rmSync(work, { recursive: true, force: true });
});

beforeEach(async () => {
  host.clear();
  const root = fs.mkdtempSync(path.join(work, 'root-'));
  serviceFile = path.join(root, 'service-up');
  const layout = installBin(root, { version: '1.0.0' }, serviceFile);
  next = await packRelease(root, { version: '1.1.0' }, serviceFile);
  host.set(`linux/${next.name}`, next.body);
  await publishSigned(host, key, 'feed/feed.json', feed({ 'linux-x64': entryOf(next, '1.1.0') }));
  options = updaterOptions(host, key, layout, serviceFile);
});

/** The attack is refused with `code` and `message`, and 1.0.0 stays installed and running. */
async function expectRefused(code: string, message: RegExp) {
  await expect(runUpdate(options, true)).rejects.toMatchObject({
    code,
    message: expect.stringMatching(message),
  });
  expect(fs.readlinkSync(options.layout.current)).toBe('versions/1.0.0');
  expect(fs.readdirSync(options.layout.versions)).toEqual(['1.0.0']);
  expect(fs.readFileSync(serviceFile, 'utf8').trim()).toBe('1.0.0');
  const state = await loadUpdateState(options.stateFile);
  expect(state.lastOk).toBe(false);
  expect(state.lastResult).toMatch(message);
}

describe('updater refuses', () => {
  it('a changed artifact (hash mismatch)', async () => {
    const changed = Buffer.from(next.body);
    changed[changed.length - 5] ^= 0x01;
    host.set(`linux/${next.name}`, changed);
    await expectRefused('download.hash-mismatch', /SHA-256 [0-9a-f]{64} does not match/);
  });

  it('a changed feed (bad signature)', async () => {
    const body = await publishSigned(
      host,
      key,
      'feed/feed.json',
      feed({ 'linux-x64': entryOf(next, '1.1.0') }),
    );
    host.set('feed/feed.json', body.toString().replace('1.1.0', '1.1.9'));
    await expectRefused('trust.bad-signature', /signature does not match the document/);
  });

  it('a feed signed by another key', async () => {
    await publishSigned(
      host,
      intruder,
      'feed/feed.json',
      feed({ 'linux-x64': entryOf(next, '1.1.0') }),
    );
    await expectRefused('trust.unknown-signer', /not a trusted release key/);
  });

  it('an older version, validly signed', async () => {
    const old = await packRelease(work, { version: '0.9.0' }, serviceFile);
    host.set(`linux/${old.name}`, old.body);
    await publishSigned(host, key, 'feed/feed.json', feed({ 'linux-x64': entryOf(old, '0.9.0') }));
    await expectRefused('update.rollback-version', /offers version 0\.9\.0, older than 1\.0\.0/);
  });

  it('an older sequence, validly signed', async () => {
    const current = {
      version: '1.0.0',
      file: 'linux/certagent-1.0.0-linux-x64.tar.gz',
      size: 1,
      sha256: 'a'.repeat(64),
    };
    await publishSigned(
      host,
      key,
      'feed/feed.json',
      feed({ 'linux-x64': current }, { sequence: 20 }),
    );
    expect(await runUpdate(options, false)).toMatchObject({ status: 'up-to-date' });

    await publishSigned(
      host,
      key,
      'feed/feed.json',
      feed({ 'linux-x64': entryOf(next, '1.1.0') }, { sequence: 19 }),
    );
    await expectRefused('trust.rollback-sequence', /sequence 19 is older than sequence 20/);
  });

  it('an expired feed, validly signed (freeze)', async () => {
    const expires = new Date(Date.now() - 1000).toISOString();
    await publishSigned(
      host,
      key,
      'feed/feed.json',
      feed({ 'linux-x64': entryOf(next, '1.1.0') }, { expires }),
    );
    await expectRefused('trust.expired', /expired at .*stale metadata/);
  });

  it('an artifact bigger than the feed says', async () => {
    host.set(`linux/${next.name}`, (_req, res) => {
      res.writeHead(200);
      res.write(next.body);
      res.end(Buffer.alloc(100_000));
    });
    await expectRefused(
      'download.oversized',
      new RegExp(`sent more than ${next.body.length} bytes`),
    );
  });

  it('a huge feed', async () => {
    host.set('feed/feed.json', endless(64 * 1024 * 1024));
    await expectRefused('download.oversized', /sent more than 1048576 bytes/);
  });

  it('an artifact named for another version', async () => {
    const other = await packRelease(work, { version: '1.0.5' }, serviceFile);
    host.set(`linux/${other.name}`, other.body);
    await publishSigned(
      host,
      key,
      'feed/feed.json',
      feed({ 'linux-x64': entryOf(other, '1.1.0') }),
    );
    await expectRefused(
      'update.mix-and-match',
      /says version 1\.1\.0 but points at linux\/certagent-1\.0\.5/,
    );
  });

  it('an artifact for another platform', async () => {
    const win = await packRelease(work, { version: '1.1.0', platform: 'win-x64' }, serviceFile);
    host.set(`linux/${win.name}`, win.body);
    await publishSigned(host, key, 'feed/feed.json', feed({ 'linux-x64': entryOf(win, '1.1.0') }));
    await expectRefused('update.mix-and-match', /points at linux\/certagent-1\.1\.0-win-x64/);
  });

  it('an artifact whose executable is another version than its name says', async () => {
    const lying = await packRelease(work, { version: '1.1.0', claims: '1.0.7' }, serviceFile);
    host.set(`linux/${lying.name}`, lying.body);
    await publishSigned(
      host,
      key,
      'feed/feed.json',
      feed({ 'linux-x64': entryOf(lying, '1.1.0') }),
    );
    await expect(runUpdate(options, true)).rejects.toMatchObject({
      code: 'update.mix-and-match',
      message: expect.stringMatching(/reports 1\.0\.7 for linux-x64.*promised 1\.1\.0/),
    });
    expect(fs.readlinkSync(options.layout.current)).toBe('versions/1.0.0');
    expect(fs.readdirSync(options.layout.versions)).toEqual(['1.0.0']);
    expect(fs.readFileSync(serviceFile, 'utf8').trim()).toBe('1.0.0');
  });

  it('a feed trickled byte by byte, bounded by the deadline', async () => {
    const body = Buffer.from(JSON.stringify(feed({ 'linux-x64': entryOf(next, '1.1.0') })));
    host.set('feed/feed.json', trickle(body, 1, 100));
    options.feedDeadlineMs = 1_000;
    await expectRefused('download.deadline', /did not finish within 1 s/);
  });

  it('an artifact trickled byte by byte, bounded by the deadline', async () => {
    host.set(`linux/${next.name}`, trickle(next.body, 16, 100));
    options.artifactDeadlineMs = 1_000;
    await expectRefused(
      'download.deadline',
      new RegExp(`${next.name}: the transfer did not finish`),
    );
  });

  it('a feed that is not an object of the expected schema', async () => {
    await publishSigned(host, key, 'feed/feed.json', { ...feed({}), schema: 2 });
    await expectRefused('trust.malformed', /field "schema" must be 1/);
  });
});

describe('mix-and-match on the Windows entry, named as the publish step names MSIs', () => {
  const sha256 = 'a'.repeat(64);
  const winFeed = (file: string, version = '1.1.0'): UpdateFeed => ({
    sequence: 10,
    issued: new Date().toISOString(),
    expires: new Date(Date.now() + 86_400_000).toISOString(),
    platforms: { 'win-x64': { version, file, size: 100, sha256 } },
  });

  it('accepts windows/certagent-<version>-x64.msi', () => {
    const f = winFeed('windows/certagent-1.1.0-x64.msi');
    expect(entryFor(f, 'win-x64', 'feed')).toEqual(f.platforms['win-x64']);
  });

  it.each([
    ['another version', 'windows/certagent-1.0.5-x64.msi'],
    ['another architecture', 'windows/certagent-1.1.0-arm64.msi'],
    ['another architecture (x86)', 'windows/certagent-1.1.0-x86.msi'],
    ['the Linux installer', 'linux/certagent-1.1.0-linux-x64.bin'],
    ['another extension', 'windows/certagent-1.1.0-x64.exe'],
    ['a name that only contains the right one', 'windows/evil-certagent-1.1.0-x64.msi'],
    ['a name with a suffix after it', 'windows/certagent-1.1.0-x64.msi.exe'],
  ])('refuses %s', (_what, file) => {
    expect(() => entryFor(winFeed(file), 'win-x64', 'feed')).toThrow(
      expect.objectContaining({
        code: 'update.mix-and-match',
        message: expect.stringContaining(`points at ${file}`),
      }),
    );
  });

  it('refuses an MSI offered as the Linux release', () => {
    const f: UpdateFeed = {
      ...winFeed('x'),
      platforms: {
        'linux-x64': { version: '1.1.0', file: 'windows/certagent-1.1.0-x64.msi', size: 1, sha256 },
      },
    };
    expect(() => entryFor(f, 'linux-x64', 'feed')).toThrow(/another version or platform/);
  });
});
