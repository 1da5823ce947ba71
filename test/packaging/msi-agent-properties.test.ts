import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadAgentConfig, revealProxyPassword } from '../../agent/config/agent-config.ts';
import { agentFiles, type AgentFiles } from '../../agent/config/agent-files.ts';
import { SecretBox } from '../../agent/config/secret-box.ts';
import {
  applyInstallProperties,
  AUTOUPDATE_NOT_GIVEN,
  INSTALL_KEY,
  parseRegQuery,
  applyWindowsInstallOnStart,
  type InstallRegistry,
} from '../../agent/platform/windows-install.ts';
import {
  AUTOUPDATE_NOT_GIVEN as MSI_MARKER,
  INSTALL_PROPERTIES,
} from '../../packaging/msi/properties.ts';

/** The install key as a map, standing in for reg.exe (the Wine suite below uses the real one). */
function memoryRegistry(initial: Record<string, string> | null) {
  let values = initial ? { ...initial } : null;
  const registry: InstallRegistry = {
    read: async () => (values ? { ...values } : null),
    delete: async (names) => {
      for (const n of names) if (values) delete values[n];
    },
  };
  return { registry, current: () => values };
}

function capturedLog() {
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), text: () => text };
}

/** What the MSI writes for a silent install with every property given. */
const FULL_INSTALL = {
  Token: 'tok-abc-123',
  ServerUrl: 'https://manager.example.test:8443',
  AutoUpdate: '',
  UseProxy: '1',
  ProxyPacUrl: '',
  ProxyHost: 'proxy.example.test',
  ProxyPort: '3128',
  ProxyDomain: 'CORP',
  ProxyUser: 'alice',
  ProxyPassword: 'pr0xy-s3cret',
};

describe('agent applies the MSI properties on first start', () => {
  let base: string;
  let files: AgentFiles;

  beforeEach(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-msiprops-'));
    files = agentFiles({ base, conf: path.join(base, 'conf'), logs: path.join(base, 'logs') });
    fs.mkdirSync(files.config.replace(/agent\.json$/, ''), { recursive: true });
  });

  it('uses the same value names and marker as the MSI writes', () => {
    expect(AUTOUPDATE_NOT_GIVEN).toBe(MSI_MARKER);
    expect(INSTALL_KEY).toBe('HKLM\\SOFTWARE\\certagent\\Install');
    const names = INSTALL_PROPERTIES.map((p) => p.registryValue).sort();
    expect(names).toEqual(Object.keys(FULL_INSTALL).sort());
  });

  it('stores proxy (password sealed) and auto-update off, registers, then empties the key', async () => {
    const reg = memoryRegistry(FULL_INSTALL);
    const { log, text } = capturedLog();
    const calls: Array<[string, string]> = [];
    const outcome = await applyInstallProperties({
      registry: reg.registry,
      files,
      log,
      register: async (token, server) => void calls.push([token, server]),
    });

    expect(outcome).toBe('registered');
    expect(calls).toEqual([['tok-abc-123', 'https://manager.example.test:8443']]);
    const config = loadAgentConfig(files.config);
    expect(config.autoUpdate).toBe(false);
    expect(config.proxy).toMatchObject({
      host: 'proxy.example.test',
      port: 3128,
      domain: 'CORP',
      user: 'alice',
    });
    expect(config.proxy.password).not.toContain('pr0xy-s3cret');
    expect(revealProxyPassword(config, SecretBox.open(files.secretKey))).toBe('pr0xy-s3cret');
    expect(fs.readFileSync(files.config, 'utf8')).not.toContain('tok-abc-123');
    expect(fs.statSync(files.config).mode & 0o777).toBe(0o600);
    expect(reg.current()).toEqual({});
    expect(text()).not.toMatch(/tok-abc-123|pr0xy-s3cret/);
  });

  it('keeps the token in the registry when the manager cannot be reached, for the next start', async () => {
    const reg = memoryRegistry(FULL_INSTALL);
    const { log, text } = capturedLog();
    const outcome = await applyInstallProperties({
      registry: reg.registry,
      files,
      log,
      register: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:8443');
      },
    });
    expect(outcome).toBe('registration-failed');
    expect(reg.current()).toEqual({ Token: 'tok-abc-123' });
    expect(text()).toContain('ECONNREFUSED');
    expect(text()).not.toContain('tok-abc-123');
  });

  it('turns auto-update on for a fresh install when PROPERTY_AUTOUPDATE was not given', async () => {
    const reg = memoryRegistry({ Token: '', AutoUpdate: AUTOUPDATE_NOT_GIVEN, ServerUrl: '' });
    await applyInstallProperties({
      registry: reg.registry,
      files,
      log: capturedLog().log,
      register: async () => {},
    });
    expect(loadAgentConfig(files.config).autoUpdate).toBe(true);
  });

  it('keeps auto-update, proxy and server on an upgrade run without properties', async () => {
    fs.writeFileSync(
      files.config,
      JSON.stringify({
        server: 'https://old.example.test',
        autoUpdate: false,
        proxy: { host: 'p', port: 8080 },
      }),
    );
    const upgrade = Object.fromEntries(Object.keys(FULL_INSTALL).map((k) => [k, '']));
    const reg = memoryRegistry({ ...upgrade, AutoUpdate: AUTOUPDATE_NOT_GIVEN });
    let registered = false;
    const outcome = await applyInstallProperties({
      registry: reg.registry,
      files,
      log: capturedLog().log,
      register: async () => void (registered = true),
    });
    expect(outcome).toBe('applied');
    expect(registered).toBe(false);
    expect(loadAgentConfig(files.config)).toMatchObject({
      server: 'https://old.example.test',
      autoUpdate: false,
      proxy: { host: 'p', port: 8080 },
    });
  });

  it('refuses a proxy port that is not a port, leaving the configuration untouched', async () => {
    const reg = memoryRegistry({ ...FULL_INSTALL, ProxyPort: '99999' });
    await expect(
      applyInstallProperties({
        registry: reg.registry,
        files,
        log: capturedLog().log,
        register: async () => {},
      }),
    ).rejects.toThrow(/proxy.port must be an integer between 1 and 65535/);
    expect(fs.existsSync(files.config)).toBe(false);
  });

  it('does nothing when the MSI left no key', async () => {
    const reg = memoryRegistry(null);
    const outcome = await applyInstallProperties({
      registry: reg.registry,
      files,
      log: capturedLog().log,
      register: async () => {},
    });
    expect(outcome).toBe('nothing');
    expect(fs.existsSync(files.config)).toBe(false);
  });

  it('does nothing off Windows, where there is no MSI and no registry', async () => {
    expect(await applyWindowsInstallOnStart(files, capturedLog().log, 'linux')).toBe('nothing');
  });
});

// reg.exe output as Windows prints it; the real one under Wine is read in msi.test.ts.
describe('parseRegQuery', () => {
  it.each([
    ['    Token    REG_SZ    tok-1', { Token: 'tok-1' }],
    [
      '    ProxyPassword    REG_SZ    pass word  with spaces',
      { ProxyPassword: 'pass word  with spaces' },
    ],
    ['    AutoUpdate    REG_SZ', { AutoUpdate: '' }],
    ['    AutoUpdate    REG_SZ    ', { AutoUpdate: '' }],
    ['HKEY_LOCAL_MACHINE\\SOFTWARE\\certagent\\Install', {}],
    ['ERROR: The system was unable to find the specified registry key or value.', {}],
  ])('%s', (line, expected) => {
    expect(parseRegQuery(`\r\n${line}\r\n\r\n`)).toEqual(expected);
  });
});
