import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUpdateState } from '../../agent/updater/update-state.ts';
import { runUpdate } from '../../agent/updater/updater.ts';
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  type ReleaseKey,
} from '../support/dist-host.ts';
import { describeWithTools } from '../support/tools.ts';
import { entryOf, feed, installBin, packRelease, updaterOptions } from './release-fixture.ts';

let host: DistHost;
let key: ReleaseKey;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-update-'));
  key = await createReleaseKey();
  host = await new DistHost().start();
});

afterAll(async () => {
  await host.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function freshInstall(version: string) {
  const root = fs.mkdtempSync(path.join(work, 'root-'));
  const serviceFile = path.join(root, 'service-up');
  return { root, serviceFile, layout: installBin(root, { version }, serviceFile) };
}

describe('.bin install update (stand-in releases)', () => {
  it('checks without changing anything, then updates N -> N+1 and reports it', async () => {
    const { root, serviceFile, layout } = freshInstall('1.0.0');
    const next = await packRelease(work, { version: '1.1.0' }, serviceFile);
    host.set(`linux/${next.name}`, next.body);
    await publishSigned(host, key, 'feed/feed.json', feed({ 'linux-x64': entryOf(next, '1.1.0') }));
    const options = updaterOptions(host, key, layout, serviceFile);

    expect(await runUpdate(options, false)).toEqual({
      status: 'available',
      from: '1.0.0',
      to: '1.1.0',
    });
    expect(fs.readlinkSync(layout.current)).toBe('versions/1.0.0');

    expect(await runUpdate(options, true)).toEqual({
      status: 'updated',
      from: '1.0.0',
      to: '1.1.0',
    });
    expect(fs.readlinkSync(layout.current)).toBe('versions/1.1.0');
    expect(fs.readFileSync(serviceFile, 'utf8').trim()).toBe('1.1.0');
    expect(fs.readdirSync(layout.versions).sort()).toEqual(['1.0.0', '1.1.0']);

    const state = await loadUpdateState(options.stateFile);
    expect(state).toMatchObject({
      lastOk: true,
      lastResult: 'updated 1.0.0 -> 1.1.0',
      newestVersion: '1.1.0',
    });
    expect(fs.readdirSync(path.join(root, 'downloads'))).toEqual([]);

    // The next check from the new version finds nothing to do.
    const again = updaterOptions(host, key, layout, serviceFile);
    expect(await runUpdate(again, true)).toEqual({ status: 'up-to-date', version: '1.1.0' });
  });

  it('rolls back a version that crashes on start, reports it, and does not retry it', async () => {
    const { serviceFile, layout } = freshInstall('1.0.0');
    const bad = await packRelease(work, { version: '1.3.0', crashOnRun: true }, serviceFile);
    host.set(`linux/${bad.name}`, bad.body);
    await publishSigned(host, key, 'feed/feed.json', feed({ 'linux-x64': entryOf(bad, '1.3.0') }));
    const options = updaterOptions(host, key, layout, serviceFile);

    await expect(runUpdate(options, true)).rejects.toMatchObject({
      code: 'update.rolled-back',
      message: expect.stringMatching(
        new RegExp(
          String.raw`version 1\.3\.0 failed its health check \(.*within 2 s \(last: ` +
            String.raw`service not running\)\); rolled back to 1\.0\.0, the previous version ` +
            String.raw`was restarted`,
        ),
      ),
    });
    expect(fs.readlinkSync(layout.current)).toBe('versions/1.0.0');
    expect(fs.readFileSync(serviceFile, 'utf8').trim()).toBe('1.0.0');
    const state = await loadUpdateState(options.stateFile);
    expect(state).toMatchObject({ lastOk: false, badVersions: ['1.3.0'] });
    expect(state.lastResult).toMatch(/rolled back to 1\.0\.0/);

    host.requests.length = 0;
    expect(await runUpdate(options, true)).toEqual({ status: 'skipped-bad', version: '1.3.0' });
    expect(host.requests.map((r) => r.path)).not.toContain(`/linux/${bad.name}`);
    expect(fs.readlinkSync(layout.current)).toBe('versions/1.0.0');
  });
});

describeWithTools('.bin install update from a real makeself archive', ['makeself'], () => {
  it('unpacks a makeself .bin beside the running version and switches to it', async () => {
    const { serviceFile, layout } = freshInstall('2.0.0');
    const next = await packRelease(work, { version: '2.0.1' }, serviceFile, 'bin');
    host.set(`linux/${next.name}`, next.body);
    await publishSigned(host, key, 'feed/feed.json', feed({ 'linux-x64': entryOf(next, '2.0.1') }));

    const outcome = await runUpdate(updaterOptions(host, key, layout, serviceFile), true);
    expect(outcome).toEqual({ status: 'updated', from: '2.0.0', to: '2.0.1' });
    expect(fs.readlinkSync(layout.current)).toBe('versions/2.0.1');
    expect(fs.readFileSync(path.join(layout.current, 'VERSION'), 'utf8')).toBe('2.0.1\n');
  });
});
