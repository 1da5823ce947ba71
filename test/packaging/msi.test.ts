import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadOrCreateDevAuthenticode } from '../../packaging/authenticode/dev-certificate.ts';
import { verifyAuthenticode } from '../../packaging/authenticode/sign.ts';
import { readProductMetadata } from '../../packaging/metadata.ts';
import { msiPackager } from '../../packaging/msi/packager.ts';
import { UPGRADE_CODE } from '../../packaging/msi/product-codes.ts';
import { AUTOUPDATE_NOT_GIVEN, INSTALL_PROPERTIES } from '../../packaging/msi/properties.ts';
import type { BuildContext, ProductMetadata } from '../../packaging/packager.ts';
import { nodeRuntime } from '../../packaging/sea/node-runtime.ts';
import { describeWithTools } from '../support/tools.ts';
import { regExeRegistry } from '../../agent/platform/windows-install.ts';
import { msiBuildContext } from '../support/msi-build.ts';
import {
  createWinePrefix,
  keepWineUp,
  wineProcesses,
  windowsPath,
  type WinePrefix,
} from '../support/wine.ts';

const NODE_VERSION = JSON.parse(
  fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8'),
).certagent.nodeRuntimeVersion as string;
const CACHE = path.join(os.tmpdir(), 'certagent-test-runtime-cache');
const INSTALL_KEY = 'HKLM\\SOFTWARE\\certagent\\Install';
const SERVICE_KEY = 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\certagent';
const UNINSTALL_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall';

let tmp: string;
let agentExe: string;
let authenticode: { chain: string; key: string; caCert: string };

function buildContext(name: string, meta: Partial<ProductMetadata> = {}): BuildContext {
  return msiBuildContext(tmp, name, agentExe, authenticode, meta);
}

function read(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/** Polls `done` every 250 ms for up to 60 s; fails naming what it waited for. */
async function waitFor(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Live certagent.exe processes of one Wine prefix. */
function agentProcesses(wine: WinePrefix): number[] {
  return wineProcesses(wine, /certagent\.exe/);
}

const builds = new Map<string, Promise<string>>();

/** Builds the MSI once per name for the whole file (each build packs an 80 MB node.exe). */
function build(name: string, meta: Partial<ProductMetadata> = {}): Promise<string> {
  if (!builds.has(name)) {
    builds.set(
      name,
      msiPackager.build(buildContext(name, meta)).then(([a]) => a.path),
    );
  }
  return builds.get(name)!;
}

async function prepareInputs(): Promise<void> {
  if (tmp) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-msi-'));
  authenticode = await loadOrCreateDevAuthenticode(path.join(CACHE, 'authenticode-dev'));
  // The pinned win-x64 Node runtime stands in for the agent executable: same size and kind.
  agentExe = await nodeRuntime('win-x64', NODE_VERSION, CACHE);
}

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Rows of one MSI table as objects keyed by column name (`msiinfo export`). */
async function table(msi: string, name: string): Promise<Array<Record<string, string>>> {
  const { stdout } = await execa('msiinfo', ['export', msi, name]);
  const [header, , , ...rows] = stdout.split(/\r?\n/);
  const cols = header.split('\t');
  return rows
    .filter(Boolean)
    .map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i], v])));
}

async function property(msi: string, name: string): Promise<string | undefined> {
  return (await table(msi, 'Property')).find((r) => r.Property === name)?.Value;
}

/** The PackageCode: the summary information's revision number. */
async function packageCode(msi: string): Promise<string | undefined> {
  const { stdout } = await execa('msiinfo', ['suminfo', msi]);
  return /Revision number \(UUID\): (\S+)/.exec(stdout)?.[1];
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

const TOOLS = [
  'wixl',
  'msiinfo',
  'msiextract',
  'osslsigncode',
  'faketime',
  'x86_64-w64-mingw32-gcc',
];

describeWithTools('MSI (wixl): tables, signature, reproducibility', TOOLS, () => {
  let msi: string;

  beforeAll(async () => {
    await prepareInputs();
    msi = await build('a');
  });

  it(
    'hides the token and the proxy password ' + 'from installer logs (MsiHiddenProperties)',
    async () => {
      const hidden = (await property(msi, 'MsiHiddenProperties'))?.split(';');
      expect(hidden).toEqual(expect.arrayContaining(['PROPERTY_TOKEN', 'PROPERTY_PROXY_PASSWORD']));
    },
  );

  it('never reboots, has ARP entries and a fixed UpgradeCode', async () => {
    const meta = readProductMetadata();
    expect(await property(msi, 'REBOOT')).toBe('ReallySuppress');
    expect(await property(msi, 'ARPNOMODIFY')).toBe('1');
    expect(await property(msi, 'ARPURLINFOABOUT')).toBe(meta.homepage);
    expect(await property(msi, 'UpgradeCode')).toBe(`{${UPGRADE_CODE}}`);
    expect(await property(msi, 'PROPERTY_AUTOUPDATE')).toBe(AUTOUPDATE_NOT_GIVEN);
    const upgrades = await table(msi, 'Upgrade');
    expect(upgrades.map((u) => u.ActionProperty).sort()).toEqual([
      'WIX_DOWNGRADE_DETECTED',
      'WIX_UPGRADE_DETECTED',
    ]);
  });

  it('locks the key holding token and password to SYSTEM and Administrators', async () => {
    const installRows = (await table(msi, 'Registry'))
      .filter((r) => r.Key === 'SOFTWARE\\certagent\\Install')
      .map((r) => r.Registry);
    expect(installRows.length).toBe(INSTALL_PROPERTIES.length);
    const locks = await table(msi, 'LockPermissions');
    for (const row of installRows) {
      const users = locks.filter((l) => l.LockObject === row).map((l) => l.User);
      expect(users.sort()).toEqual(['Administrators', 'SYSTEM']);
    }
    expect(new Set(locks.map((l) => l.Table))).toEqual(new Set(['Registry']));
  });

  it('hands PROPERTY_SERVER_CA to the agent like PROPERTY_SERVER_URL, not hidden', async () => {
    const rows = (await table(msi, 'Registry')).filter(
      (r) => r.Key === 'SOFTWARE\\certagent\\Install',
    );
    const byName = (name: string) => rows.find((r) => r.Name === name);
    expect(byName('ServerCa')).toMatchObject({ Value: '[PROPERTY_SERVER_CA]', Root: '2' });
    expect(byName('ServerCa')?.Component_).toBe(byName('ServerUrl')?.Component_);
    // No table default: an upgrade without it writes nothing the agent would apply.
    expect(await property(msi, 'PROPERTY_SERVER_CA')).toBeUndefined();
    const hidden = (await property(msi, 'MsiHiddenProperties'))?.split(';');
    expect(hidden).not.toContain('PROPERTY_SERVER_CA');
  });

  it('refuses to install without PROPERTY_TOKEN unless upgrading (LaunchCondition)', async () => {
    const conditions = await table(msi, 'LaunchCondition');
    const token = conditions.find((c) => c.Condition.includes('PROPERTY_TOKEN'));
    expect(token?.Condition).toBe(
      'Installed OR PROPERTY_TOKEN OR WIX_UPGRADE_DETECTED OR WIX_DOWNGRADE_DETECTED',
    );
    expect(token?.Description).toMatch(/PROPERTY_TOKEN=/);
  });

  it('registers the certagent service on the service host, started on install', async () => {
    const [service] = await table(msi, 'ServiceInstall');
    expect(service).toMatchObject({ Name: 'certagent', StartType: '2', StartName: 'LocalSystem' });
    const [control] = await table(msi, 'ServiceControl');
    // 0x1 start on install, 0x2|0x20 stop on install and uninstall, 0x80 delete on uninstall.
    expect(Number(control.Event)).toBe(0x1 | 0x2 | 0x20 | 0x80);
    const files = (await table(msi, 'File')).map((f) => f.FileName.split('|').pop());
    expect(files.sort()).toEqual([
      'certagent-config.cmd',
      'certagent-service.exe',
      'certagent.exe',
      'install-kind',
    ]);
  });

  it('is Authenticode-signed, and so is the service host inside it', async () => {
    await expect(verifyAuthenticode(msi, authenticode.caCert)).resolves.toMatch(
      /Signature verification: ok/i,
    );
    const out = path.join(tmp, 'extracted');
    await execa('msiextract', ['-C', out, msi]);
    const host = (await execa('find', [out, '-name', 'certagent-service.exe'])).stdout.trim();
    await expect(verifyAuthenticode(host, authenticode.caCert)).resolves.toMatch(/ok/i);
  });

  it('fails verification once a byte of the signed MSI is flipped', async () => {
    const bad = path.join(tmp, 'tampered.msi');
    const bytes = fs.readFileSync(msi);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(bad, bytes);
    await expect(verifyAuthenticode(bad, authenticode.caCert)).rejects.toThrow(/does not verify/);
  });

  // Byte-for-byte reproducibility of the MSI is checked on two real release runs
  // (test/packaging/release.test.ts), not on a second packager call here.
  it('derives ProductCode and PackageCode from the content, keeps the UpgradeCode', async () => {
    const next = await build('c', { version: '0.1.1' });
    expect(await property(next, 'ProductCode')).not.toBe(await property(msi, 'ProductCode'));
    expect(await packageCode(next)).not.toBe(await packageCode(msi));
    expect(await packageCode(msi)).toMatch(/^\{[0-9A-F-]{36}\}$/);
    expect(await property(next, 'UpgradeCode')).toBe(await property(msi, 'UpgradeCode'));
  });
});

describeWithTools(
  'MSI under Wine: msiexec /i, upgrade, /x',
  [...TOOLS, 'wine', 'wineserver'],
  () => {
    let wine: WinePrefix;
    let v1: string;
    let v2: string;
    const log = () => windowsPath(path.join(tmp, `msiexec-${Date.now()}.log`));
    const programFiles = () => path.join(wine.driveC, 'Program Files/certagent');

    beforeAll(async () => {
      await prepareInputs();
      [wine, v1, v2] = await Promise.all([
        createWinePrefix(),
        build('a'),
        build('c', { version: '0.1.1' }),
      ]);
      // One wineserver for the whole suite: without it, Wine shuts the prefix down whenever
      // only services are left (they count as system processes there), and the next command
      // boots it again and auto-starts certagent, so a stop could never be observed.
      // Both with no pipes of ours: the server and the services wineboot starts outlive the
      // command, and a Wine command that boots them would otherwise hold execa's pipe open.
      await keepWineUp(wine);
    });

    afterAll(async () => {
      await wine?.dispose();
    });

    async function serviceState(): Promise<string> {
      const { output } = await wine.wine(['sc', 'query', 'certagent']);
      return /STATE\s*:\s*\d+\s+(\w+)/.exec(output)?.[1] ?? output;
    }

    /** `sc stop`, then waits for STOPPED (the host may take its 10 s grace period). */
    async function stopService(): Promise<void> {
      await wine.wine(['sc', 'stop', 'certagent']);
      await waitFor(async () => (await serviceState()) === 'STOPPED', 'certagent to stop');
    }

    async function startService(): Promise<void> {
      await wine.wine(['sc', 'start', 'certagent']);
      await waitFor(async () => (await serviceState()) === 'RUNNING', 'certagent to run');
    }

    /** The host reports STOPPED once its child is gone; Linux may reap it a moment later. */
    async function expectNoAgentProcess(): Promise<void> {
      await waitFor(() => agentProcesses(wine).length === 0, 'certagent.exe to be gone');
    }

    async function arpEntry(msi: string) {
      return wine.regQuery(`${UNINSTALL_KEY}\\${await property(msi, 'ProductCode')}`);
    }

    it('fails a silent install without PROPERTY_TOKEN and installs nothing', async () => {
      expect(await wine.msiexec(['/i', windowsPath(v1), '/qn', '/l*v', log()])).toBe(1603);
      expect(fs.existsSync(programFiles())).toBe(false);
      expect(await wine.regQuery(SERVICE_KEY)).toBeNull();
    });

    it('installs silently with the properties: files, registry, service, ARP entry', async () => {
      const props = [
        'PROPERTY_TOKEN=tok-123',
        'PROPERTY_USE_PROXY=1',
        'PROPERTY_PROXY_HOST=proxy.example.test',
        'PROPERTY_PROXY_PORT=3128',
        'PROPERTY_PROXY_USER=alice',
        'PROPERTY_PROXY_PASSWORD=s3cret',
        'PROPERTY_SERVER_CA=C:\\ProgramData\\manager-ca.pem',
        // Last: msiexec (Wine's at least) takes the next argument as the value of `NAME=`.
        'PROPERTY_AUTOUPDATE=',
      ];
      expect(await wine.msiexec(['/i', windowsPath(v1), '/qn', ...props, '/l*v', log()])).toBe(0);

      for (const f of [
        'certagent.exe',
        'certagent-service.exe',
        'certagent-config.cmd',
        'install-kind',
      ]) {
        expect(fs.existsSync(path.join(programFiles(), f))).toBe(true);
      }
      expect(sha256(path.join(programFiles(), 'certagent.exe'))).toBe(sha256(agentExe));
      for (const d of ['conf', 'logs']) {
        expect(fs.statSync(path.join(wine.driveC, 'ProgramData/certagent', d)).isDirectory()).toBe(
          true,
        );
      }

      expect(await wine.regQuery(INSTALL_KEY)).toMatchObject({
        Token: 'tok-123',
        UseProxy: '1',
        ProxyHost: 'proxy.example.test',
        ProxyPort: '3128',
        ProxyUser: 'alice',
        ProxyPassword: 's3cret',
        AutoUpdate: '',
        ServerCa: 'C:\\ProgramData\\manager-ca.pem',
      });

      const service = await wine.regQuery(SERVICE_KEY);
      expect(service).toMatchObject({ Start: '0x2', ObjectName: 'LocalSystem' });
      expect(service?.ImagePath).toBe('C:\\Program Files\\certagent\\certagent-service.exe');
      const state = await wine.wine(['sc', 'query', 'certagent']);
      expect(state.output).toMatch(/RUNNING/);

      const arp = await arpEntry(v1);
      expect(arp).toMatchObject({
        DisplayName: 'certagent',
        DisplayVersion: '0.1.0',
        NoModify: '0x1',
      });
      expect(arp?.URLInfoAbout).toBe(readProductMetadata().homepage);
    });

    it('runs `certagent.exe run` under the service host, output in logs\\service.log', async () => {
      // node.exe stands in for the agent: it reports that it has no script named "run",
      // which proves the host started it with that argument and captured its output.
      const serviceLog = path.join(wine.driveC, 'ProgramData/certagent/logs/service.log');
      let text = '';
      for (let i = 0; i < 200 && !/run/.test(text); i++) {
        await new Promise((r) => setTimeout(r, 500));
        text = fs.existsSync(serviceLog) ? fs.readFileSync(serviceLog, 'utf8') : '';
      }
      expect(text).toMatch(/Cannot find module.*run/);
    });

    it(
      'stops gracefully on `sc stop` (CTRL_C), ' + 'kills after the grace period, starts again',
      async () => {
        const dataDir = path.join(wine.driveC, 'ProgramData/certagent');
        const serviceLog = path.join(dataDir, 'logs/service.log');
        const standInLog = path.join(dataDir, 'logs/stand-in.log');
        // node.exe, the stand-in agent, runs this file for `run`: the host starts it in the
        // data folder. It records its start and the signal that ends it.
        const writeStandIn = (onSigint: string) =>
          fs.writeFileSync(
            path.join(dataDir, 'run'),
            `const fs = require('fs');
           const log = (line) => ` +
              `fs.appendFileSync(${JSON.stringify(windowsPath(standInLog))}, line + '\\n');
           log('started ' + process.pid);
           process.on('SIGINT', () => { log('SIGINT ' + process.pid); ${onSigint} });
           setInterval(() => {}, 1000);`,
          );
        writeStandIn('process.exit(0);');
        await stopService();
        await startService();
        await waitFor(() => read(standInLog).includes('started'), 'the stand-in agent to start');
        expect(agentProcesses(wine)).toHaveLength(1);

        await stopService();
        expect(read(standInLog)).toMatch(/SIGINT/);
        expect(read(serviceLog)).toMatch(/certagent\.exe exited on request/);
        await expectNoAgentProcess();

        await startService();
        await waitFor(() => agentProcesses(wine).length === 1, 'certagent.exe to run again');

        // An agent that ignores the request is ended once the grace period is over.
        fs.rmSync(standInLog);
        writeStandIn('/* ignored */');
        await stopService();
        await startService();
        await waitFor(() => read(standInLog).includes('started'), 'the stubborn stand-in to start');
        await stopService();
        expect(read(standInLog)).toMatch(/SIGINT/);
        expect(read(serviceLog)).toMatch(/terminating certagent\.exe .*did not exit on request/);
        await expectNoAgentProcess();

        // Back to the state the next tests expect: service running, no stand-in script.
        fs.rmSync(path.join(dataDir, 'run'));
        await startService();
      },
    );

    it('hands the values to the agent: read and deleted through the real reg.exe', async () => {
      const registry = regExeRegistry(async (args) => {
        const r = await wine.wine(['reg', ...args]);
        return { exitCode: r.exitCode, stdout: r.output };
      });
      const values = await registry.read();
      expect(values).toMatchObject({
        Token: 'tok-123',
        ProxyPassword: 's3cret',
        ProxyHost: 'proxy.example.test',
      });
      expect(values?.AutoUpdate).toBe('');

      await registry.delete(['Token', 'ProxyPassword']);
      const left = await wine.regQuery(INSTALL_KEY);
      expect(left).not.toHaveProperty('Token');
      expect(left).not.toHaveProperty('ProxyPassword');
      expect(left).toHaveProperty('ProxyHost', 'proxy.example.test');
    });

    it(
      'upgrades without properties: keeps the ' + 'agent configuration, replaces the ARP entry',
      async () => {
        // What the agent wrote on its first start; the upgrade must leave it alone.
        const conf = path.join(wine.driveC, 'ProgramData/certagent/conf/agent.json');
        fs.writeFileSync(conf, '{"server":"https://manager.example.test"}');

        expect(await wine.msiexec(['/i', windowsPath(v2), '/qn', '/l*v', log()])).toBe(0);
        expect(fs.readFileSync(conf, 'utf8')).toBe('{"server":"https://manager.example.test"}');
        expect(await arpEntry(v1)).toBeNull();
        expect(await arpEntry(v2)).toMatchObject({ DisplayVersion: '0.1.1' });

        // Nothing given: no token, and auto-update says "not given" so the agent keeps its own.
        const handed = await wine.regQuery(INSTALL_KEY);
        expect(handed?.Token ?? '').toBe('');
        expect(handed?.AutoUpdate).toBe(AUTOUPDATE_NOT_GIVEN);
        expect(await wine.regQuery(SERVICE_KEY)).not.toBeNull();
      },
    );

    it(
      'uninstalls with /x: service, program ' + 'files and ARP entry gone, configuration kept',
      async () => {
        expect(await wine.msiexec(['/x', windowsPath(v2), '/qn', '/l*v', log()])).toBe(0);
        expect(await wine.regQuery(SERVICE_KEY)).toBeNull();
        expect(await arpEntry(v2)).toBeNull();
        expect(fs.existsSync(path.join(programFiles(), 'certagent.exe'))).toBe(false);
        expect(fs.existsSync(path.join(wine.driveC, 'ProgramData/certagent/conf/agent.json'))).toBe(
          true,
        );
      },
    );
  },
);
