import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadAgentConfig, revealProxyPassword } from '../../agent/config/agent-config.ts';
import { agentFiles, type AgentFiles } from '../../agent/config/agent-files.ts';
import { SecretBox } from '../../agent/config/secret-box.ts';
import { loadIdentity } from '../../agent/registration/agent-identity.ts';
import {
  applyInstallProperties,
  AUTOUPDATE_NOT_GIVEN,
  INSTALL_KEY,
  parseRegQuery,
  applyWindowsInstallOnStart,
  installerRegistration,
  type InstallRegistry,
} from '../../agent/platform/windows-install.ts';
import {
  AUTOUPDATE_NOT_GIVEN as MSI_MARKER,
  INSTALL_PROPERTIES,
} from '../../packaging/msi/properties.ts';
import { addAgent, startManager, type ManagerProcess } from '../support/manager.ts';

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
  ServerCa: '',
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

  it(
    'stores proxy (password sealed) and ' + 'auto-update off, registers, then empties the key',
    async () => {
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
    },
  );

  it(
    'keeps the token in the registry when the ' + 'manager cannot be reached, for the next start',
    async () => {
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
      expect(reg.current()).toEqual({ Token: 'tok-abc-123', ServerCa: '' });
      expect(text()).toContain('ECONNREFUSED');
      expect(text()).not.toContain('tok-abc-123');
    },
  );

  it(
    'turns auto-update on for a fresh install ' + 'when PROPERTY_AUTOUPDATE was not given',
    async () => {
      const reg = memoryRegistry({ Token: '', AutoUpdate: AUTOUPDATE_NOT_GIVEN, ServerUrl: '' });
      await applyInstallProperties({
        registry: reg.registry,
        files,
        log: capturedLog().log,
        register: async () => {},
      });
      expect(loadAgentConfig(files.config).autoUpdate).toBe(true);
    },
  );

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

function newAgentFiles(prefix: string): AgentFiles {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `certagent-${prefix}-`));
  const files = agentFiles({ base, conf: path.join(base, 'conf'), logs: path.join(base, 'logs') });
  fs.mkdirSync(path.dirname(files.config), { recursive: true });
  return files;
}

describe('PROPERTY_SERVER_CA: registering with a manager that has its own CA', () => {
  let manager: ManagerProcess;

  beforeAll(async () => {
    manager = await startManager();
  });

  afterAll(async () => {
    await manager?.stop();
    if (manager) fs.rmSync(manager.dataDir, { recursive: true, force: true });
  });

  it(
    'is refused without the CA (token kept), ' + 'registers once the CA is given, pins it',
    async () => {
      const files = newAgentFiles('msica');
      const { token } = await addAgent(manager.dataDir, 'msi-private-ca');
      const install = { Token: token, ServerUrl: manager.url, AutoUpdate: AUTOUPDATE_NOT_GIVEN };
      const reg = memoryRegistry({ ...install, ServerCa: '' });
      const first = capturedLog();
      const apply = (log = first.log) =>
        applyInstallProperties({
          registry: reg.registry,
          files,
          log,
          register: installerRegistration(files, log),
        });

      // Node's own roots do not know the manager's CA: the token must survive the failure.
      const savedBundle = process.env.SSL_CERT_FILE;
      delete process.env.SSL_CERT_FILE;
      try {
        expect(await apply()).toBe('registration-failed');
      } finally {
        if (savedBundle !== undefined) process.env.SSL_CERT_FILE = savedBundle;
      }
      expect(reg.current()).toEqual({ Token: token, ServerCa: '' });
      expect(loadIdentity(files)).toBeUndefined();
      expect(first.text()).not.toContain(token);

      // A reinstall gives the CA; the next start registers with the same token.
      Object.assign(reg.current()!, { ServerCa: manager.caPath });
      const second = capturedLog();
      expect(await apply(second.log)).toBe('registered');
      expect(reg.current()).toEqual({});
      expect(loadIdentity(files)).toBeDefined();
      expect(fs.readFileSync(files.serverCa, 'utf8')).toBe(fs.readFileSync(manager.caPath, 'utf8'));
      expect(loadAgentConfig(files.config).server).toBe(manager.url);
      expect(second.text()).not.toContain(token);

      // An upgrade without properties leaves the pinned CA and the registration as they are.
      const pinned = fs.readFileSync(files.serverCa, 'utf8');
      const upgrade = memoryRegistry({ Token: '', ServerUrl: '', ServerCa: '', AutoUpdate: '' });
      const outcome = await applyInstallProperties({
        registry: upgrade.registry,
        files,
        log: capturedLog().log,
        register: installerRegistration(files, capturedLog().log),
      });
      expect(outcome).toBe('applied');
      expect(upgrade.current()).toEqual({});
      expect(fs.readFileSync(files.serverCa, 'utf8')).toBe(pinned);
      expect(loadAgentConfig(files.config).server).toBe(manager.url);
    },
  );

  const notPem = (dir: string) => {
    const file = path.join(dir, 'not-a-cert.pem');
    fs.writeFileSync(file, 'this is not a certificate\n');
    return file;
  };
  const brokenPem = (dir: string) => {
    const file = path.join(dir, 'broken.pem');
    const good = fs.readFileSync(manager.caPath, 'utf8');
    // Same armour, body cut in half: the file looks like PEM but holds no certificate.
    const body = good.split('\n').slice(1, -2);
    const cut = body.slice(0, Math.ceil(body.length / 2));
    fs.writeFileSync(
      file,
      ['-----BEGIN CERTIFICATE-----', ...cut, '-----END CERTIFICATE-----'].join('\n'),
    );
    return file;
  };
  const missing = (dir: string) => path.join(dir, 'no-such-ca.pem');
  const directory = (dir: string) => dir;

  it.each([
    ['a path that does not exist', missing, /cannot be read \(ENOENT\)/],
    ['a directory', directory, /cannot be read \(EISDIR\)/],
    ['a file without PEM certificates', notPem, /holds no PEM certificate/],
    ['a PEM block that does not parse', brokenPem, /certificate 1 in it does not parse/],
  ])('keeps the token and reports %s, without calling the manager', async (_, make, reason) => {
    const files = newAgentFiles('msibadca');
    const caFile = make(fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-badca-')));
    const reg = memoryRegistry({ Token: 'tok-bad-ca', ServerUrl: manager.url, ServerCa: caFile });
    const { log, text } = capturedLog();
    let called = false;
    const outcome = await applyInstallProperties({
      registry: reg.registry,
      files,
      log,
      register: async () => void (called = true),
    });

    expect(outcome).toBe('registration-failed');
    expect(called).toBe(false);
    expect(reg.current()).toEqual({ Token: 'tok-bad-ca', ServerCa: caFile });
    expect(text()).toMatch(reason);
    expect(text()).toContain(`PROPERTY_SERVER_CA ${caFile}`);
    expect(text()).not.toContain('tok-bad-ca');
    expect(fs.existsSync(files.serverCa)).toBe(false);
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
