import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBootstrap, type BootstrapDeps } from '../../bootstrap/install.ts';
import { msiPackagePath } from '../../agent/updater/msi-packages.ts';
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  signDetached,
  type ReleaseKey,
} from '../support/dist-host.ts';

const MSI = randomBytes(200_000);
const MSI_SHA = createHash('sha256').update(MSI).digest('hex');
const TOKEN = 'tok-5ecr3t value';
const PROXY_PASSWORD = 'pa"ss w0rd';

let host: DistHost;
let key: ReleaseKey;
let otherKey: ReleaseKey;
let root: string;

function manifest(overrides: Record<string, unknown> = {}) {
  return {
    schema: 1,
    product: 'certagent',
    sequence: 10,
    issued: new Date().toISOString(),
    expires: new Date(Date.now() + 86_400_000).toISOString(),
    version: '1.2.3',
    files: [
      {
        kind: 'msi',
        arch: 'x64',
        file: 'certagent-1.2.3-x64.msi',
        size: MSI.length,
        sha256: MSI_SHA,
      },
    ],
    ...overrides,
  };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  calls: Array<{ executable: string; args: string[]; msi?: Buffer }>;
  stateDir: string;
  downloadDir: string;
}

/** Runs the bootstrap with a recording msiexec stand-in that answers `exitCode`. */
async function bootstrap(
  argv: string[],
  opts: Partial<BootstrapDeps> & { exitCode?: number } = {},
) {
  const run: Run = { code: -1, stdout: '', stderr: '', calls: [], stateDir: '', downloadDir: '' };
  run.stateDir = opts.stateDir ?? fs.mkdtempSync(path.join(root, 'state-'));
  run.downloadDir = opts.downloadDir ?? fs.mkdtempSync(path.join(root, 'dl-'));
  run.code = await runBootstrap(argv, {
    stdout: { write: (s: string) => (run.stdout += s) },
    stderr: { write: (s: string) => (run.stderr += s) },
    runner: async (executable, args) => {
      const msiPath = args[1];
      run.calls.push({ executable, args, msi: fs.readFileSync(msiPath) });
      return opts.exitCode ?? 0;
    },
    trustedKeys: [key.publicKeyArmored],
    defaultSource: host.origin,
    arch: 'x64',
    env: { SystemRoot: 'C:\\Windows' },
    deadlineMs: 10_000,
    ...opts,
    stateDir: run.stateDir,
    downloadDir: run.downloadDir,
  });
  return run;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-bootstrap-'));
  [key, otherKey] = await Promise.all([createReleaseKey(), createReleaseKey('intruder')]);
  host = await new DistHost().start();
});

afterAll(async () => {
  await host.close();
  fs.rmSync(root, { recursive: true, force: true });
});

beforeEach(async () => {
  host.clear();
  await publishSigned(host, key, 'windows/manifest.json', manifest());
  host.set('windows/certagent-1.2.3-x64.msi', MSI);
});

/** `<base>\\bootstrap` under a base of its own, so what a run keeps beside it is its own. */
function freshStateDir(): string {
  const dir = path.join(fs.mkdtempSync(path.join(root, 'base-')), 'bootstrap');
  fs.mkdirSync(dir);
  return dir;
}

describe('bootstrap install', () => {
  it('downloads, verifies and runs msiexec silently with the exact command line', async () => {
    const log = path.join(root, 'install one.log');
    const run = await bootstrap(
      [
        '/i',
        '/q',
        '/l',
        log,
        `PROPERTY_TOKEN=${TOKEN}`,
        'PROPERTY_AUTOUPDATE=',
        'PROPERTY_USE_PROXY=',
        `PROPERTY_PROXY_PASSWORD=${PROXY_PASSWORD}`,
      ],
      { stateDir: freshStateDir() },
    );

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.calls).toHaveLength(1);
    const [call] = run.calls;
    expect(call.executable).toBe('C:\\Windows\\System32\\msiexec.exe');
    const msiPath = path.join(run.downloadDir, `${MSI_SHA.slice(0, 16)}-certagent-1.2.3-x64.msi`);
    expect(call.args).toEqual([
      '/i',
      msiPath,
      '/qn',
      '/norestart',
      '/l*v',
      `"${log}"`,
      'PROPERTY_TOKEN="tok-5ecr3t value"',
      'PROPERTY_PROXY_PASSWORD="pa""ss w0rd"',
      // Empty last (Wine's msiexec takes the next argument as an empty one's value), and an
      // empty switch without a table default is the same as not given: left out.
      'PROPERTY_AUTOUPDATE=""',
    ]);
    expect(call.msi).toEqual(MSI);
    expect(run.stdout).toContain(
      'PROPERTY_TOKEN=***** PROPERTY_PROXY_PASSWORD=***** PROPERTY_AUTOUPDATE=""',
    );
    expect(run.stdout).toContain('msiexec exit code 0: success');
    expect(fs.existsSync(msiPath)).toBe(false);
    // Kept where the updater finds the installed version's MSI for a rollback.
    const kept = msiPackagePath(path.dirname(run.stateDir), '1.2.3');
    expect(fs.readFileSync(kept)).toEqual(MSI);

    // Secrets never reach the bootstrap's log or its output.
    const bootstrapLog = fs.readFileSync(`${log}.bootstrap.log`, 'utf8');
    expect(bootstrapLog).toContain('manifest sequence 10 version 1.2.3');
    for (const text of [bootstrapLog, run.stdout]) {
      expect(text).not.toContain('5ecr3t');
      expect(text).not.toContain('w0rd');
    }
  });

  it('shows msiexec with UI when not silent, and uninstalls with /x', async () => {
    const ui = await bootstrap(['PROPERTY_TOKEN=t']);
    expect(ui.calls[0].args.slice(0, 1)).toEqual(['/i']);
    expect(ui.calls[0].args).not.toContain('/qn');

    const remove = await bootstrap(['/x', '/q'], { stateDir: freshStateDir() });
    expect(remove.calls[0].args[0]).toBe('/x');
    expect(remove.calls[0].args).toContain('/qn');
    // Nothing to roll back to after an uninstall: no MSI is kept.
    expect(fs.existsSync(msiPackagePath(path.dirname(remove.stateDir), '1.2.3'))).toBe(false);
  });

  const codes: Array<[number, RegExp]> = [
    [3010, /exit code 3010: success; a reboot is required/],
    [1602, /exit code 1602: the installation was cancelled/],
    [1603, /exit code 1603: fatal error/],
    [1618, /exit code 1618: another installation is already in progress/],
    [4242, /exit code 4242: unknown Windows Installer result/],
  ];
  it.each(codes)(
    'passes msiexec exit code %i through and says what it means',
    async (code, text) => {
      const run = await bootstrap(['/i', '/q', 'PROPERTY_TOKEN=t'], { exitCode: code });
      expect(run.code).toBe(code);
      expect(run.stdout + run.stderr).toMatch(text);
    },
  );

  it('resumes a partial download with a Range request', async () => {
    const downloadDir = fs.mkdtempSync(path.join(root, 'dl-'));
    const dest = path.join(downloadDir, `${MSI_SHA.slice(0, 16)}-certagent-1.2.3-x64.msi`);
    fs.writeFileSync(`${dest}.part`, MSI.subarray(0, 123_456));

    const run = await bootstrap(['/i', '/q'], { downloadDir });
    expect(run.code).toBe(0);
    expect(run.calls[0].msi).toEqual(MSI);
    const msiRequest = host.requests.find((r) => r.path.endsWith('.msi'));
    expect(msiRequest?.headers.range).toBe('bytes=123456-');
  });

  it('refuses bad usage with msiexec code 1639 and the usage text', async () => {
    const run = await bootstrap(['/i', '/bogus']);
    expect(run.code).toBe(1639);
    expect(run.stderr).toMatch(/unknown option "\/bogus"/);
    expect(run.stderr).toMatch(/Usage: certagent-setup.exe/);
    expect(host.requests).toHaveLength(0);
  });

  it('prints help for /?', async () => {
    const run = await bootstrap(['/?']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\/source URL/);
  });
});

describe('bootstrap refuses', () => {
  async function expectRefused(run: Run, message: RegExp) {
    expect(run.code).toBe(1603);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/nothing was installed/);
    expect(run.calls).toHaveLength(0);
  }

  it('a manifest signed by another key', async () => {
    await publishSigned(host, otherKey, 'windows/manifest.json', manifest());
    await expectRefused(await bootstrap(['/i', '/q']), /not a trusted release key/);
  });

  it('a manifest changed after signing', async () => {
    const body = await publishSigned(host, key, 'windows/manifest.json', manifest());
    host.set('windows/manifest.json', body.toString().replace('"sequence": 10', '"sequence": 11'));
    await expectRefused(await bootstrap(['/i', '/q']), /signature does not match/);
  });

  it('a signature file that is not a signature', async () => {
    host.set('windows/manifest.json.asc', 'hello');
    await expectRefused(await bootstrap(['/i', '/q']), /not an armoured OpenPGP signature/);
  });

  it('an expired manifest', async () => {
    const expires = new Date(Date.now() - 60_000).toISOString();
    await publishSigned(host, key, 'windows/manifest.json', manifest({ expires }));
    await expectRefused(await bootstrap(['/i', '/q']), /expired at/);
  });

  it('a manifest older than the newest one seen', async () => {
    const stateDir = fs.mkdtempSync(path.join(root, 'state-'));
    expect((await bootstrap(['/i', '/q'], { stateDir })).code).toBe(0);

    await publishSigned(host, key, 'windows/manifest.json', manifest({ sequence: 9 }));
    await expectRefused(
      await bootstrap(['/i', '/q'], { stateDir }),
      /sequence 9 is older than sequence 10/,
    );
  });

  it('a tampered MSI, and deletes it', async () => {
    const tampered = Buffer.from(MSI);
    tampered[1000] ^= 0xff;
    host.set('windows/certagent-1.2.3-x64.msi', tampered);
    const run = await bootstrap(['/i', '/q']);
    await expectRefused(run, /SHA-256 [0-9a-f]{64} does not match/);
    expect(fs.readdirSync(run.downloadDir)).toEqual([]);
  });

  it('an MSI larger than the manifest says', async () => {
    host.set('windows/certagent-1.2.3-x64.msi', (_req, res) => {
      res.writeHead(200);
      res.write(MSI);
      res.end(randomBytes(50_000));
    });
    await expectRefused(await bootstrap(['/i', '/q']), /sent more than 200000 bytes/);
  });

  it('an MSI whose declared length is larger than the manifest says', async () => {
    host.set('windows/certagent-1.2.3-x64.msi', Buffer.concat([MSI, Buffer.alloc(10)]));
    await expectRefused(await bootstrap(['/i', '/q']), /sent more than 200000 bytes/);
  });

  it('a huge manifest', async () => {
    host.set('windows/manifest.json', Buffer.alloc(2 * 1024 * 1024, 0x20));
    await expectRefused(await bootstrap(['/i', '/q']), /more than 262144 bytes/);
  });

  it('a machine architecture the release has no MSI for', async () => {
    await expectRefused(
      await bootstrap(['/i', '/q'], { arch: 'arm64' }),
      /no MSI for architecture arm64/,
    );
  });

  it('a manifest file name that climbs out of the download folder', async () => {
    const files = [{ kind: 'msi', arch: 'x64', file: '../evil.msi', size: 1, sha256: MSI_SHA }];
    await publishSigned(host, key, 'windows/manifest.json', manifest({ files }));
    await expectRefused(await bootstrap(['/i', '/q']), /field "file" is missing or invalid/);
  });

  it('secrets even when they appear in an error message', async () => {
    const run = await bootstrap(['/i', '/q', `PROPERTY_TOKEN=${TOKEN}`], {
      defaultSource: `ftp://${encodeURIComponent(TOKEN)}`,
    });
    expect(run.code).toBe(1603);
    expect(run.stderr).toMatch(/not an http\(s\) URL/);
    expect(run.stderr).not.toContain('5ecr3t');
    expect(fs.readFileSync(path.join(run.stateDir, 'bootstrap.log'), 'utf8')).not.toContain(
      '5ecr3t',
    );
  });

  it('a detached signature made over other bytes', async () => {
    host.set('windows/manifest.json.asc', await signDetached(key, 'something else'));
    await expectRefused(await bootstrap(['/i', '/q']), /signature does not match/);
  });
});

describe('bootstrap download folder', () => {
  it('refuses a folder others can write to, where the MSI could be swapped', async () => {
    const downloadDir = fs.mkdtempSync(path.join(root, 'shared-'));
    fs.chmodSync(downloadDir, 0o777);
    const run = await bootstrap(['/i', '/q'], { downloadDir });
    expect(run.code).toBe(1603);
    expect(run.stderr).toMatch(/writable by others, so a verified MSI could be swapped/);
    expect(run.calls).toHaveLength(0);
  });
});
