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
import { AUTOUPDATE_NOT_GIVEN } from '../../packaging/msi/properties.ts';
import type { BuildContext, ProductMetadata } from '../../packaging/packager.ts';
import { nodeRuntime } from '../../packaging/sea/node-runtime.ts';
import { describeWithTools } from '../support/tools.ts';
import { createWinePrefix, windowsPath, type WinePrefix } from '../support/wine.ts';

const EPOCH = 1_767_225_600;
const CACHE = path.join(os.tmpdir(), 'certagent-test-runtime-cache');
const INSTALL_KEY = 'HKLM\\SOFTWARE\\certagent\\Install';
const SERVICE_KEY = 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\certagent';
const UNINSTALL_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall';

let tmp: string;
let agentExe: string;
let authenticode: { chain: string; key: string; caCert: string };

function buildContext(name: string, meta: Partial<ProductMetadata> = {}): BuildContext {
  const distDir = path.join(tmp, name, 'dist');
  fs.mkdirSync(distDir, { recursive: true });
  return {
    meta: { ...readProductMetadata(), ...meta },
    sourceDateEpoch: EPOCH,
    commit: '0123456789abcdef0123456789abcdef01234567',
    distDir,
    workDir: path.join(tmp, name, 'work'),
    executables: { linuxAgent: '/nonexistent', windowsAgent: agentExe },
    signing: {
      openpgpPrivateKeyArmored: '',
      openpgpPublicKeyArmored: '',
      authenticodeCert: authenticode.chain,
      authenticodeKey: authenticode.key,
      development: true,
    },
    progress: () => {},
  };
}

async function build(name: string, meta: Partial<ProductMetadata> = {}): Promise<string> {
  const [artifact] = await msiPackager.build(buildContext(name, meta));
  return artifact.path;
}

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
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-msi-'));
    authenticode = await loadOrCreateDevAuthenticode(path.join(CACHE, 'authenticode-dev'));
    agentExe = await nodeRuntime('win-x64', readProductMetadata().version && '22.23.3', CACHE);
    msi = await build('a');
  });

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('hides the token and the proxy password from installer logs (MsiHiddenProperties)', async () => {
    const hidden = (await property(msi, 'MsiHiddenProperties'))?.split(';');
    expect(hidden).toEqual(expect.arrayContaining(['PROPERTY_TOKEN', 'PROPERTY_PROXY_PASSWORD']));
  });

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

  it('refuses to install without PROPERTY_TOKEN unless upgrading (LaunchCondition)', async () => {
    const conditions = await table(msi, 'LaunchCondition');
    const token = conditions.find((c) => c.Condition.includes('PROPERTY_TOKEN'));
    expect(token?.Condition).toBe('Installed OR PROPERTY_TOKEN OR WIX_UPGRADE_DETECTED');
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

  it('is byte-identical when built twice, with codes that change with the content', async () => {
    const again = await build('b');
    expect(sha256(again)).toBe(sha256(msi));

    const next = await build('c', { version: '0.1.1' });
    expect(await property(next, 'ProductCode')).not.toBe(await property(msi, 'ProductCode'));
    expect(await packageCode(next)).not.toBe(await packageCode(msi));
    expect(await packageCode(msi)).toMatch(/^\{[0-9A-F-]{36}\}$/);
    expect(await property(next, 'UpgradeCode')).toBe(await property(msi, 'UpgradeCode'));
  });
});
