import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installLayout } from '../../agent/updater/install-layout.ts';
import { msiPackagePath } from '../../agent/updater/msi-packages.ts';
import { buildMsiUpgradeCommand } from '../../agent/updater/msi-upgrade.ts';
import type { MsiWatchRequest } from '../../agent/updater/msi-watch.ts';
import { watcherArgs } from '../../agent/updater/msi-watcher-launch.ts';
import { loadUpdateState, saveUpdateState } from '../../agent/updater/update-state.ts';
import { describeOutcome, runUpdate, type UpdaterOptions } from '../../agent/updater/updater.ts';
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  type ReleaseKey,
} from '../support/dist-host.ts';
import { feed } from './release-fixture.ts';

let host: DistHost;
let key: ReleaseKey;
let work: string;
const msi = randomBytes(30_000);

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-msi-update-'));
  key = await createReleaseKey();
  host = await new DistHost().start();
});

afterAll(async () => {
  await host.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function options(started: MsiWatchRequest[]): UpdaterOptions {
  const root = fs.mkdtempSync(path.join(work, 'pf-'));
  const base = path.join(root, 'data');
  return {
    source: host.origin,
    trustedKeys: [key.publicKeyArmored],
    kind: 'msi',
    layout: installLayout(root),
    stateFile: path.join(base, 'conf', 'update-state.json'),
    platform: 'win-x64',
    installedVersion: '4.0.0',
    restartService: async () => undefined,
    healthCheck: async () => undefined,
    baseDir: base,
    downloadDir: path.join(base, 'updates'),
    healthTimeoutMs: 42_000,
    msiWatcher: async (request) => void started.push(request),
  };
}

async function publish(body: Buffer) {
  const file = 'windows/certagent-4.1.0-x64.msi';
  host.set(file, body);
  const sha256 = createHash('sha256').update(msi).digest('hex');
  await publishSigned(
    host,
    key,
    'feed/feed.json',
    feed({ 'win-x64': { version: '4.1.0', file, size: msi.length, sha256 } }),
  );
}

describe('MSI install update', () => {
  it('builds a silent major upgrade that passes no properties and never reboots', () => {
    const command = buildMsiUpgradeCommand(
      'C:\\ProgramData\\certagent\\updates\\x.msi',
      'C:\\Program Data\\u.log',
    );
    expect(command).toEqual({
      executable: 'C:\\Windows\\System32\\msiexec.exe',
      args: [
        '/i',
        'C:\\ProgramData\\certagent\\updates\\x.msi',
        '/qn',
        '/norestart',
        '/l*v',
        '"C:\\Program Data\\u.log"',
      ],
    });
  });

  it('adds only CERTAGENT_ROLLBACK=1 for the rollback, never a PROPERTY_*', () => {
    const command = buildMsiUpgradeCommand('C:\\p\\old.msi', 'C:\\p\\r.log', 'D:\\Win', {
      rollback: true,
    });
    expect(command.executable).toBe('D:\\Win\\System32\\msiexec.exe');
    expect(command.args).toEqual([
      '/i',
      'C:\\p\\old.msi',
      '/qn',
      '/norestart',
      'CERTAGENT_ROLLBACK=1',
      '/l*v',
      'C:\\p\\r.log',
    ]);
  });

  it('downloads and verifies the MSI, then hands it to the watcher with the kept MSI', async () => {
    await publish(msi);
    const started: MsiWatchRequest[] = [];
    const opts = options(started);
    const kept = msiPackagePath(opts.baseDir!, '4.0.0');
    fs.mkdirSync(path.dirname(kept), { recursive: true });
    fs.writeFileSync(kept, 'the 4.0.0 msi');

    const outcome = await runUpdate(opts, true);
    expect(outcome).toEqual({
      status: 'upgrade-started',
      from: '4.0.0',
      to: '4.1.0',
      rollback: true,
    });
    const target = path.join(opts.downloadDir, 'certagent-4.1.0-x64.msi');
    expect(started).toEqual([
      {
        msi: target,
        from: '4.0.0',
        to: '4.1.0',
        previousMsi: kept,
        baseDir: opts.baseDir,
        stateFile: opts.stateFile,
        healthTimeoutMs: 42_000,
      },
    ]);
    expect(fs.readFileSync(target)).toEqual(msi);
    const state = await loadUpdateState(opts.stateFile);
    expect(state.lastResult).toBe(
      'MSI upgrade 4.0.0 -> 4.1.0 started; 4.0.0 is reinstalled if 4.1.0 does not start and ' +
        'connect',
    );
    expect(watcherArgs(started[0], opts.layout.root)).toEqual([
      '--base-dir',
      opts.baseDir,
      'apply-msi-update',
      '--msi',
      target,
      '--from',
      '4.0.0',
      '--to',
      '4.1.0',
      '--previous-msi',
      kept,
      '--install-root',
      opts.layout.root,
      '--timeout',
      '42',
    ]);
  });

  it('says so when no MSI of the installed version is kept to roll back to', async () => {
    await publish(msi);
    const started: MsiWatchRequest[] = [];
    const opts = options(started);
    const outcome = await runUpdate(opts, true);
    expect(started[0].previousMsi).toBeUndefined();
    expect(watcherArgs(started[0], opts.layout.root)).not.toContain('--previous-msi');
    expect(describeOutcome(outcome)).toBe(
      'MSI upgrade 4.0.0 -> 4.1.0 started; no MSI of 4.0.0 is kept, so it cannot be rolled back',
    );
  });

  it(
    'remembers the upgrade as pending until the ' + 'watcher reports, and starts no second one',
    async () => {
      await publish(msi);
      const started: MsiWatchRequest[] = [];
      const opts = options(started);
      const now = new Date('2026-12-04T10:00:00.000Z');
      await runUpdate({ ...opts, now: () => now }, true);
      const state = await loadUpdateState(opts.stateFile);
      // Twice the health limit (upgrade and rollback) plus 30 minutes for msiexec.
      expect(state.pendingMsi).toEqual({
        from: '4.0.0',
        to: '4.1.0',
        started: '2026-12-04T10:00:00.000Z',
        deadline: '2026-12-04T10:31:24.000Z',
      });

      const later = { ...opts, now: () => new Date('2026-12-04T10:20:00.000Z') };
      expect(await runUpdate(later, true)).toEqual({
        status: 'in-progress',
        from: '4.0.0',
        to: '4.1.0',
        since: '2026-12-04T10:00:00.000Z',
      });
      expect(started).toHaveLength(1);
    },
  );

  it('keeps a report the watcher wrote while the check was still running', async () => {
    await publish(msi);
    const opts = options([]);
    const quick: UpdaterOptions = {
      ...opts,
      msiWatcher: async (request) => {
        const state = await loadUpdateState(request.stateFile);
        delete state.pendingMsi;
        state.lastResult = 'MSI upgrade 4.0.0 -> 4.1.0 failed: msiexec exit 1619';
        await saveUpdateState(request.stateFile, state);
      },
    };
    await runUpdate(quick, true);
    const state = await loadUpdateState(opts.stateFile);
    expect(state.lastResult).toBe('MSI upgrade 4.0.0 -> 4.1.0 failed: msiexec exit 1619');
    expect(state.pendingMsi).toBeUndefined();
  });

  it('leaves nothing pending when the watcher cannot be started', async () => {
    await publish(msi);
    const opts = options([]);
    const broken: UpdaterOptions = {
      ...opts,
      msiWatcher: async () => {
        throw new Error('C:\\ProgramData\\certagent\\updates\\w.exe could not be written');
      },
    };
    await expect(runUpdate(broken, true)).rejects.toThrow(/could not be written/);
    const state = await loadUpdateState(opts.stateFile);
    expect(state.pendingMsi).toBeUndefined();
    expect(state.lastResult).toMatch(/could not be written/);
    expect(state.badVersions).toEqual([]);
  });

  const lost: Array<[string, string, Partial<Record<string, unknown>>]> = [
    ['4.1.0', 'the new version is installed', { newestVersion: '4.1.0', badVersions: [] }],
    ['4.0.0', 'the old version is still installed', { badVersions: ['4.1.0'] }],
  ];
  it.each(lost)(
    'settles a watcher that never reported once its deadline is past (%s: %s)',
    async (installed, _title, expected) => {
      await publish(msi);
      const started: MsiWatchRequest[] = [];
      const opts = { ...options(started), installedVersion: installed };
      const pending = {
        from: '4.0.0',
        to: '4.1.0',
        started: '2026-12-04T10:00:00.000Z',
        deadline: '2026-12-04T10:31:24.000Z',
      };
      await saveUpdateState(opts.stateFile, { badVersions: [], pendingMsi: pending });

      const before = await runUpdate(
        { ...opts, now: () => new Date('2026-12-04T10:31:00Z') },
        true,
      );
      expect(before.status).toBe(installed === '4.1.0' ? 'up-to-date' : 'in-progress');
      expect((await loadUpdateState(opts.stateFile)).pendingMsi).toEqual(pending);

      await runUpdate({ ...opts, now: () => new Date('2026-12-04T10:32:00Z') }, true);
      const state = await loadUpdateState(opts.stateFile);
      expect(state.pendingMsi).toBeUndefined();
      expect(state).toMatchObject(expected);
      // Either way no new upgrade starts: installed, or skipped as a failed version.
      expect(started).toEqual([]);
    },
  );

  it('refuses a changed MSI and starts nothing', async () => {
    const changed = Buffer.from(msi);
    changed[0] ^= 1;
    await publish(changed);
    const started: MsiWatchRequest[] = [];
    await expect(runUpdate(options(started), true)).rejects.toMatchObject({
      code: 'download.hash-mismatch',
    });
    expect(started).toEqual([]);
  });
});
