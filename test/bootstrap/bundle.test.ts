import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleBootstrap } from '../../bootstrap/bundle.ts';
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  type ReleaseKey,
} from '../support/dist-host.ts';

// Linux keeps 8 bits of an exit code: msiexec's 1603 arrives as 67 (Windows keeps all 32).
const FAILED_ON_LINUX = 1603 & 0xff;

let dir: string;
let host: DistHost;
let key: ReleaseKey;
let intruder: ReleaseKey;
let bundle: string;
const msi = randomBytes(10_000);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-bootstrap-bundle-'));
  [key, intruder] = await Promise.all([createReleaseKey(), createReleaseKey('intruder')]);
  host = await new DistHost().start();
  bundle = await bundleBootstrap(path.join(dir, 'certagent-setup.cjs'), {
    releaseKeyArmored: key.publicKeyArmored,
    source: host.origin,
  });
  host.set('windows/certagent-3.0.0-x64.msi', msi);
});

afterAll(async () => {
  await host.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function manifest() {
  return {
    schema: 1,
    product: 'certagent',
    sequence: 1,
    issued: new Date().toISOString(),
    expires: new Date(Date.now() + 3_600_000).toISOString(),
    version: '3.0.0',
    files: [
      {
        kind: 'msi',
        arch: 'x64',
        file: 'certagent-3.0.0-x64.msi',
        size: msi.length,
        sha256: createHash('sha256').update(msi).digest('hex'),
      },
    ],
  };
}

/** Runs the built bundle as the single executable would, with a private ProgramData. */
function runBundle(args: string[]) {
  return execa(process.execPath, [bundle, ...args], {
    reject: false,
    env: { PROGRAMDATA: fs.mkdtempSync(path.join(dir, 'pd-')), PROCESSOR_ARCHITECTURE: 'AMD64' },
    extendEnv: false,
  });
}

describe('bootstrap bundle', () => {
  it('is small and holds only bootstrap, trust and proxy code', () => {
    const text = fs.readFileSync(bundle, 'utf8');
    expect(text).not.toMatch(/agent\/(discovery|credstores|service)\//);
    // Of the updater, only the name and place of the kept MSI.
    const updaterFiles = new Set(text.match(/agent\/updater\/[\w-]+\.ts/g) ?? []);
    expect([...updaterFiles]).toEqual(['agent/updater/msi-packages.ts']);
    expect(fs.statSync(bundle).size).toBeLessThan(3 * 1024 * 1024);
  });

  it('prints usage for /?', async () => {
    const run = await runBundle(['/?']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/Usage: certagent-setup.exe/);
  });

  it('trusts the embedded key: refuses a manifest signed by another key', async () => {
    await publishSigned(host, intruder, 'windows/manifest.json', manifest());
    const run = await runBundle(['/i', '/q', 'PROPERTY_TOKEN=embedded-test-token']);
    expect(run.exitCode).toBe(FAILED_ON_LINUX);
    expect(run.stderr).toMatch(/not a trusted release key/);
  });

  it('trusts the embedded key: accepts its own manifest and reaches msiexec', async () => {
    await publishSigned(host, key, 'windows/manifest.json', manifest());
    const run = await runBundle(['/i', '/q', 'PROPERTY_TOKEN=embedded-test-token']);
    // On Linux there is no msiexec: the run gets as far as starting it, with the secret masked.
    expect(run.stdout).toMatch(
      new RegExp(
        String.raw`running .*msiexec\.exe \/i .*certagent-3\.0\.0-x64\.msi \/qn ` +
          String.raw`\/norestart PROPERTY_TOKEN=\*\*\*\*\*`,
      ),
    );
    expect(run.stderr).toMatch(/msiexec\.exe.*ENOENT/);
    expect(run.stdout + run.stderr).not.toContain('embedded-test-token');
    expect(run.exitCode).toBe(FAILED_ON_LINUX);
  });
});
