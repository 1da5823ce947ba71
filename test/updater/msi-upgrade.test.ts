import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installLayout } from '../../agent/updater/install-layout.ts';
import { buildMsiUpgradeCommand, type MsiUpgradeCommand } from '../../agent/updater/msi-upgrade.ts';
import { runUpdate, type UpdaterOptions } from '../../agent/updater/updater.ts';
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

function options(started: MsiUpgradeCommand[]): UpdaterOptions {
  const root = fs.mkdtempSync(path.join(work, 'pf-'));
  return {
    source: host.origin,
    trustedKeys: [key.publicKeyArmored],
    kind: 'msi',
    layout: installLayout(root),
    stateFile: path.join(root, 'conf', 'update-state.json'),
    platform: 'win-x64',
    installedVersion: '4.0.0',
    restartService: async () => undefined,
    healthCheck: async () => undefined,
    downloadDir: path.join(root, 'updates'),
    msiRunner: async (command) => void started.push(command),
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

  it('downloads and verifies the MSI, then starts msiexec detached', async () => {
    await publish(msi);
    const started: MsiUpgradeCommand[] = [];
    const opts = options(started);
    expect(await runUpdate(opts, true)).toEqual({
      status: 'upgrade-started',
      from: '4.0.0',
      to: '4.1.0',
    });
    expect(started).toHaveLength(1);
    const target = path.join(opts.downloadDir, 'certagent-4.1.0-x64.msi');
    expect(started[0].args.slice(0, 4)).toEqual(['/i', target, '/qn', '/norestart']);
    expect(fs.readFileSync(target)).toEqual(msi);
  });

  it('refuses a changed MSI and starts nothing', async () => {
    const changed = Buffer.from(msi);
    changed[0] ^= 1;
    await publish(changed);
    const started: MsiUpgradeCommand[] = [];
    await expect(runUpdate(options(started), true)).rejects.toMatchObject({
      code: 'download.hash-mismatch',
    });
    expect(started).toEqual([]);
  });
});
