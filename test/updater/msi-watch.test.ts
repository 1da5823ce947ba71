import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationalError } from '../../agent/cli/errors.ts';
import { msiPackagePath } from '../../agent/updater/msi-packages.ts';
import type { MsiUpgradeCommand } from '../../agent/updater/msi-upgrade.ts';
import { watchMsiUpgrade, type MsiWatch } from '../../agent/updater/msi-watch.ts';
import { loadUpdateState, updateStateFile } from '../../agent/updater/update-state.ts';
import { runUpdate } from '../../agent/updater/updater.ts';
import { createReleaseKey, DistHost, publishSigned } from '../support/dist-host.ts';
import { feed } from './release-fixture.ts';
import { runAgentMain } from '../support/agent-main.ts';

let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-msi-watch-'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

/**
 * A stand-in for Windows Installer and the installed service: `/i certagent-V-x64.msi`
 * installs V (refusing a downgrade without CERTAGENT_ROLLBACK=1, as the MSI's launch
 * condition does), and V is healthy once installed unless it is listed as broken.
 */
class FakeWindows {
  installed = '4.0.0';
  commands: MsiUpgradeCommand[] = [];
  codes: number[] = [];
  constructor(readonly broken: string[] = []) {}

  runMsiexec = async (command: MsiUpgradeCommand): Promise<number> => {
    this.commands.push(command);
    const forced = this.codes.shift();
    if (forced !== undefined && forced !== 0 && forced !== 3010) return forced;
    const version = /certagent-([\d.]+)-x64\.msi$/.exec(command.args[1])?.[1];
    if (!version || !fs.existsSync(command.args[1])) return 1619;
    const downgrade = semver.lt(version, this.installed);
    if (downgrade && !command.args.includes('CERTAGENT_ROLLBACK=1')) return 1603;
    this.installed = version;
    return forced ?? 0;
  };

  healthCheck = async (version: string, timeoutMs: number): Promise<void> => {
    const last =
      this.installed !== version
        ? `reports version ${this.installed}`
        : this.broken.includes(version)
          ? 'service not connected to the manager'
          : 'healthy';
    if (last === 'healthy') return;
    throw new OperationalError(
      `version ${version} did not report running and connected within ` +
        `${timeoutMs / 1000} s (last: ${last})`,
      'update.unhealthy',
    );
  };
}

interface Setup {
  base: string;
  watch: MsiWatch;
  machine: FakeWindows;
  logFile: string;
}

/** A data folder with the downloaded 4.1.0 MSI and, unless told, the kept 4.0.0 one. */
function setup(machine: FakeWindows, keepPrevious = true): Setup {
  const base = fs.mkdtempSync(path.join(work, 'data-'));
  const msi = path.join(base, 'updates', 'certagent-4.1.0-x64.msi');
  fs.mkdirSync(path.dirname(msi), { recursive: true });
  fs.writeFileSync(msi, 'msi of 4.1.0');
  const previous = msiPackagePath(base, '4.0.0');
  if (keepPrevious) {
    fs.mkdirSync(path.dirname(previous), { recursive: true });
    fs.writeFileSync(previous, 'msi of 4.0.0');
  }
  const logs = path.join(base, 'logs');
  return {
    base,
    machine,
    logFile: path.join(logs, 'update.log'),
    watch: {
      msi,
      from: '4.0.0',
      to: '4.1.0',
      previousMsi: keepPrevious ? previous : undefined,
      baseDir: base,
      stateFile: updateStateFile(path.join(base, 'conf')),
      healthTimeoutMs: 2_000,
      runMsiexec: machine.runMsiexec,
      healthCheck: machine.healthCheck,
      log: pino(pino.destination({ dest: path.join(logs, 'update.log'), sync: true, mkdir: true })),
    },
  };
}

const cli = runAgentMain;

function logRecords(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A program folder marked as an MSI install, for `certagent status`. */
function msiInstall(): string {
  const root = fs.mkdtempSync(path.join(work, 'pf-'));
  fs.writeFileSync(path.join(root, 'install-kind'), 'msi\r\n');
  return root;
}

async function withProgramDir<T>(dir: string, body: () => Promise<T>): Promise<T> {
  const previous = process.env.CERTAGENT_PROGRAM_DIR;
  process.env.CERTAGENT_PROGRAM_DIR = dir;
  try {
    return await body();
  } finally {
    if (previous === undefined) delete process.env.CERTAGENT_PROGRAM_DIR;
    else process.env.CERTAGENT_PROGRAM_DIR = previous;
  }
}

describe('MSI update watcher', () => {
  it(
    'installs, finds the new version healthy ' + 'and keeps its MSI as the next rollback target',
    async () => {
      const s = setup(new FakeWindows());
      expect(await watchMsiUpgrade(s.watch)).toBe('updated');

      expect(s.machine.installed).toBe('4.1.0');
      expect(s.machine.commands.map((c) => c.args)).toEqual([
        ['/i', s.watch.msi, '/qn', '/norestart', '/l*v', `${s.watch.msi}.log`],
      ]);
      const state = await loadUpdateState(s.watch.stateFile);
      expect(state).toMatchObject({
        lastOk: true,
        lastResult: 'updated 4.0.0 -> 4.1.0 (MSI)',
        newestVersion: '4.1.0',
        badVersions: [],
      });
      expect(fs.readdirSync(path.join(s.base, 'packages'))).toEqual(['certagent-4.1.0-x64.msi']);
      expect(fs.readFileSync(msiPackagePath(s.base, '4.1.0'), 'utf8')).toBe('msi of 4.1.0');
      expect(fs.existsSync(s.watch.msi)).toBe(false);
    },
  );

  it('says when Windows needs a restart to finish (3010)', async () => {
    const machine = new FakeWindows();
    machine.codes = [3010];
    const s = setup(machine);
    expect(await watchMsiUpgrade(s.watch)).toBe('updated');
    expect((await loadUpdateState(s.watch.stateFile)).lastResult).toBe(
      'updated 4.0.0 -> 4.1.0 (MSI); Windows needs a restart to finish it',
    );
  });

  it('rolls back a version that never connects, reports it, and never retries it', async () => {
    const s = setup(new FakeWindows(['4.1.0']));
    expect(await watchMsiUpgrade(s.watch)).toBe('rolled-back');

    expect(s.machine.installed).toBe('4.0.0');
    const previous = msiPackagePath(s.base, '4.0.0');
    expect(s.machine.commands.map((c) => c.args)).toEqual([
      ['/i', s.watch.msi, '/qn', '/norestart', '/l*v', `${s.watch.msi}.log`],
      [
        '/i',
        previous,
        '/qn',
        '/norestart',
        'CERTAGENT_ROLLBACK=1',
        '/l*v',
        `${s.watch.msi}.rollback.log`,
      ],
    ]);
    const state = await loadUpdateState(s.watch.stateFile);
    expect(state.lastOk).toBe(false);
    expect(state.badVersions).toEqual(['4.1.0']);
    expect(state.newestVersion).toBeUndefined();
    expect(state.lastResult).toBe(
      'MSI upgrade 4.0.0 -> 4.1.0: 4.1.0 did not start and connect (version 4.1.0 did not ' +
        'report running and connected within 2 s (last: service not connected to the manager)); ' +
        'rolled back to 4.0.0, running and connected again; 4.1.0 is not tried again',
    );
    const records = logRecords(s.logFile);
    expect(records.map((r) => r.msg)).toEqual([
      'msi upgrade starting',
      'new version unhealthy after msi upgrade, rolling back',
      'rolled back to the previous msi',
    ]);
    expect(records[2]).toMatchObject({ from: '4.0.0', to: '4.1.0', healthy: true });
    // The kept MSI is still the rollback target of the next attempt at a newer version.
    expect(fs.readdirSync(path.join(s.base, 'packages'))).toEqual(['certagent-4.0.0-x64.msi']);
    expect(fs.existsSync(s.watch.msi)).toBe(false);

    const status = await cli(['--base-dir', s.base, 'update', '--status']);
    expect(status.out).toMatch(
      /last result: +MSI upgrade 4\.0\.0 -> 4\.1\.0: .*rolled back to 4\.0\.0.*\[FAILED\]/,
    );
    expect(status.out).toMatch(/skipped: +4\.1\.0 \(failed to start\)/);
    const agentStatus = await withProgramDir(msiInstall(), () =>
      cli(['--base-dir', s.base, 'status']),
    );
    expect(agentStatus.out).toMatch(
      new RegExp(
        String.raw`updates: +last check \S+: MSI upgrade 4\.0\.0 -> 4\.1\.0: 4\.1\.0 did ` +
          String.raw`not start and connect .*rolled back to 4\.0\.0.* \[FAILED\];`,
      ),
    );

    // The next scheduled check sees 4.1.0 again, validly signed, and leaves it alone.
    const key = await createReleaseKey();
    const host = await new DistHost().start();
    try {
      const file = 'windows/certagent-4.1.0-x64.msi';
      host.set(file, 'msi of 4.1.0');
      const entry = { version: '4.1.0', file, size: 12, sha256: 'a'.repeat(64) };
      await publishSigned(host, key, 'feed/feed.json', feed({ 'win-x64': entry }));
      const launched: unknown[] = [];
      const outcome = await runUpdate(
        {
          source: host.origin,
          trustedKeys: [key.publicKeyArmored],
          kind: 'msi',
          layout: { root: s.base, versions: s.base, current: s.base, kindFile: s.base },
          stateFile: s.watch.stateFile,
          platform: 'win-x64',
          installedVersion: '4.0.0',
          restartService: async () => undefined,
          healthCheck: s.machine.healthCheck,
          baseDir: s.base,
          downloadDir: path.join(s.base, 'updates'),
          msiWatcher: async (request) => void launched.push(request),
        },
        true,
      );
      expect(outcome).toEqual({ status: 'skipped-bad', version: '4.1.0' });
      expect(launched).toEqual([]);
      expect(host.requests.some((r) => r.path.endsWith('.msi'))).toBe(false);
    } finally {
      await host.close();
    }
  });

  it(
    'reports msiexec 1603 with its meaning and ' + 'does not roll back (Windows Installer did)',
    async () => {
      const machine = new FakeWindows();
      machine.codes = [1603];
      const s = setup(machine);
      expect(await watchMsiUpgrade(s.watch)).toBe('install-failed');

      expect(machine.commands).toHaveLength(1);
      expect(machine.installed).toBe('4.0.0');
      const state = await loadUpdateState(s.watch.stateFile);
      expect(state.lastOk).toBe(false);
      expect(state.lastResult).toBe(
        'MSI upgrade 4.0.0 -> 4.1.0 failed: msiexec exit 1603 (fatal error during installation); ' +
          `Windows Installer rolled it back, 4.0.0 is still installed (log: ${s.watch.msi}.log); ` +
          '4.1.0 is not tried again; a newer release will be',
      );
      expect(state.badVersions).toEqual(['4.1.0']);
      expect(fs.readdirSync(path.join(s.base, 'packages'))).toEqual(['certagent-4.0.0-x64.msi']);
      expect(logRecords(s.logFile).at(-1)).toMatchObject({ code: 1603, level: 50 });
    },
  );

  it('tries again after 1618 (another installation was running)', async () => {
    const machine = new FakeWindows();
    machine.codes = [1618];
    const s = setup(machine);
    expect(await watchMsiUpgrade(s.watch)).toBe('install-failed');
    const state = await loadUpdateState(s.watch.stateFile);
    expect(state.lastResult).toMatch(
      /1618 \(another installation is already in progress\).*tried again/,
    );
    expect(state.badVersions).toEqual([]);
  });

  it('says clearly that rollback was impossible when no previous MSI was kept', async () => {
    const s = setup(new FakeWindows(['4.1.0']), false);
    expect(await watchMsiUpgrade(s.watch)).toBe('rollback-impossible');

    expect(s.machine.commands).toHaveLength(1);
    expect(s.machine.installed).toBe('4.1.0');
    const state = await loadUpdateState(s.watch.stateFile);
    expect(state.lastResult).toBe(
      'MSI upgrade 4.0.0 -> 4.1.0: 4.1.0 did not start and connect (version 4.1.0 did not ' +
        'report running and connected within 2 s (last: service not connected to the manager)); ' +
        `rollback impossible: no MSI of 4.0.0 was kept (${msiPackagePath(s.base, '4.0.0')} is ` +
        'missing), 4.1.0 stays installed. Reinstall 4.0.0 with the bootstrap or its MSI; ' +
        '4.1.0 is not tried again',
    );
    expect(state.badVersions).toEqual(['4.1.0']);
  });

  it('tells how to finish by hand when the rollback MSI fails too', async () => {
    const machine = new FakeWindows(['4.1.0']);
    machine.codes = [0, 1603];
    const s = setup(machine);
    expect(await watchMsiUpgrade(s.watch)).toBe('rollback-failed');
    const state = await loadUpdateState(s.watch.stateFile);
    expect(state.lastResult).toMatch(
      new RegExp(
        String.raw`rollback to 4\.0\.0 failed too: msiexec exit 1603 \(fatal error ` +
          String.raw`during installation\) \(log: .*rollback\.log\)\. Reinstall 4\.0\.0 by ` +
          String.raw`hand: msiexec \/i ".*certagent-4\.0\.0-x64\.msi" CERTAGENT_ROLLBACK=1`,
      ),
    );
    expect(state.badVersions).toEqual(['4.1.0']);
  });

  it('records a rollback whose msiexec cannot even start', async () => {
    const machine = new FakeWindows(['4.1.0']);
    const s = setup(machine);
    const install = machine.runMsiexec;
    s.watch.runMsiexec = async (command) => {
      if (command.args.includes('CERTAGENT_ROLLBACK=1')) throw new Error('msiexec.exe: ENOENT');
      return install(command);
    };
    expect(await watchMsiUpgrade(s.watch)).toBe('rollback-failed');
    const state = await loadUpdateState(s.watch.stateFile);
    expect(state.lastResult).toMatch(/rollback to 4\.0\.0 failed too: msiexec\.exe: ENOENT/);
    expect(state.badVersions).toEqual(['4.1.0']);
  });

  it('reports a previous version that is unhealthy after the rollback too', async () => {
    const s = setup(new FakeWindows(['4.0.0', '4.1.0']));
    expect(await watchMsiUpgrade(s.watch)).toBe('rollback-failed');
    expect((await loadUpdateState(s.watch.stateFile)).lastResult).toMatch(
      /rolled back to 4\.0\.0, but it is not healthy either \(version 4\.0\.0 did not report/,
    );
  });

  it(
    'keeps what the service wrote meanwhile: ' + 'sequence, next check, hold, bad versions',
    async () => {
      const s = setup(new FakeWindows(['4.1.0']));
      fs.mkdirSync(path.dirname(s.watch.stateFile), { recursive: true });
      fs.writeFileSync(
        s.watch.stateFile,
        JSON.stringify({
          newestSequence: 12,
          nextCheck: '2030-01-01T00:00:00.000Z',
          holdVersion: '4.0.0',
          badVersions: ['3.9.0'],
          pendingMsi: { from: '4.0.0', to: '4.1.0', started: 'x', deadline: 'y' },
        }),
      );
      await watchMsiUpgrade(s.watch);
      // The report ends the pending state the updater left for it.
      expect((await loadUpdateState(s.watch.stateFile)).pendingMsi).toBeUndefined();
      expect(await loadUpdateState(s.watch.stateFile)).toMatchObject({
        newestSequence: 12,
        nextCheck: '2030-01-01T00:00:00.000Z',
        holdVersion: '4.0.0',
        badVersions: ['3.9.0', '4.1.0'],
      });
    },
  );
});
