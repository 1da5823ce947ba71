import fs from 'node:fs';
import path from 'node:path';
import type { ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUpdateState } from '../../agent/updater/update-state.ts';
import { runUpdate } from '../../agent/updater/updater.ts';
import { createReleaseKey, DistHost, publishSigned } from '../support/dist-host.ts';
import {
  managerCli,
  registerNewAgent,
  startAgent,
  startManager,
  tempDir,
  waitFor,
  type ManagerProcess,
} from '../support/manager.ts';
import { entryOf, feed, installBin, packRelease, updaterOptions } from './release-fixture.ts';

describe('manager holds an agent at its version', () => {
  let manager: ManagerProcess;
  let agent: ResultPromise | undefined;
  let baseDir: string;

  beforeAll(async () => {
    manager = await startManager();
    ({ baseDir } = await registerNewAgent(manager, 'held-agent'));
    agent = startAgent(baseDir);
  });

  afterAll(async () => {
    agent?.kill('SIGTERM');
    await agent;
    await manager?.stop();
  });

  async function holds() {
    const res = await managerCli(['updates', 'list', '--data', manager.dataDir, '--json']);
    expect(res.exitCode).toBe(0);
    return JSON.parse(res.stdout) as Array<{
      name: string;
      version: string | null;
      held: string | null;
      confirmed: string | null;
    }>;
  }

  it('queues a hold the running agent confirms and records, then a release', async () => {
    const hold = await managerCli([
      'updates',
      'hold',
      '--data',
      manager.dataDir,
      '--agent',
      'held-agent',
      '--version',
      '1.0.0',
    ]);
    expect(hold.stderr).toBe('');
    expect(hold.stdout).toMatch(/hold at 1\.0\.0 queued for held-agent/);

    const confirmed = await waitFor('the agent to confirm the hold', async () => {
      const row = (await holds()).find((r) => r.name === 'held-agent');
      return row?.confirmed === '1.0.0' && row;
    });
    expect(confirmed).toMatchObject({ held: '1.0.0', confirmed: '1.0.0' });
    expect(confirmed.version).toMatch(/^\d+\.\d+\.\d+/);
    const stateFile = path.join(baseDir, 'conf', 'update-state.json');
    expect((await loadUpdateState(stateFile)).holdVersion).toBe('1.0.0');

    const release = await managerCli([
      'updates',
      'release',
      '--data',
      manager.dataDir,
      '--agent',
      'held-agent',
    ]);
    expect(release.stdout).toMatch(/release of the hold queued/);
    await waitFor('the agent to confirm the release', async () => {
      const row = (await holds()).find((r) => r.name === 'held-agent');
      return row?.held === null && row.confirmed === null && row.version !== null;
    });
    expect((await loadUpdateState(stateFile)).holdVersion).toBeUndefined();
  });

  it('refuses a hold at something that is not a version, or for an unknown agent', async () => {
    const bad = await managerCli([
      'updates',
      'hold',
      '--data',
      manager.dataDir,
      '--agent',
      'held-agent',
      '--version',
      'latest',
    ]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/"latest" is not a version/);
    const nobody = await managerCli([
      'updates',
      'hold',
      '--data',
      manager.dataDir,
      '--agent',
      'nobody',
      '--version',
      '1.0.0',
    ]);
    expect(nobody.exitCode).toBe(2);
    expect(nobody.stderr).toMatch(/no agent named "nobody"/);
  });
});

describe('a held agent does not update', () => {
  it('reports the hold and installs nothing until released', async () => {
    const work = tempDir('hold-update');
    const host = await new DistHost().start();
    try {
      const key = await createReleaseKey();
      const serviceFile = path.join(work, 'service-up');
      const layout = installBin(path.join(work, 'root'), { version: '1.0.0' }, serviceFile);
      const next = await packRelease(work, { version: '1.1.0' }, serviceFile);
      host.set(`linux/${next.name}`, next.body);
      await publishSigned(
        host,
        key,
        'feed/feed.json',
        feed({ 'linux-x64': entryOf(next, '1.1.0') }),
      );
      const options = updaterOptions(host, key, layout, serviceFile);

      fs.mkdirSync(path.dirname(options.stateFile), { recursive: true });
      fs.writeFileSync(
        options.stateFile,
        JSON.stringify({ holdVersion: '1.0.0', badVersions: [] }),
      );
      expect(await runUpdate(options, true)).toEqual({
        status: 'held',
        version: '1.0.0',
        offered: '1.1.0',
      });
      expect(fs.readlinkSync(layout.current)).toBe('versions/1.0.0');
      expect(host.requests.map((r) => r.path)).not.toContain(`/linux/${next.name}`);

      const state = await loadUpdateState(options.stateFile);
      fs.writeFileSync(options.stateFile, JSON.stringify({ ...state, holdVersion: undefined }));
      expect(await runUpdate(options, true)).toMatchObject({ status: 'updated', to: '1.1.0' });
    } finally {
      await host.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
