import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentFiles, type AgentFiles } from '../../agent/config/agent-files.ts';
import { pendingTokenFile } from '../../agent/platform/pending-token.ts';
import {
  applyInstallProperties,
  AUTOUPDATE_NOT_GIVEN,
  type InstallRegistry,
} from '../../agent/platform/windows-install.ts';

const TOKEN = 'tok-pending-4711';
const SERVER = 'https://manager.example.test:8443';

/** What a first silent install leaves under the install key (no proxy). */
const FIRST_INSTALL = {
  Token: TOKEN,
  ServerUrl: SERVER,
  ServerCa: '',
  AutoUpdate: '',
  UseProxy: '',
  ProxyHost: '',
};

/**
 * What a major upgrade run without properties leaves: the old product's values are removed
 * with it, the new one writes its own, empty but for the auto-update marker.
 */
const UPGRADE_WITHOUT_PROPERTIES = {
  Token: '',
  ServerUrl: '',
  ServerCa: '',
  AutoUpdate: AUTOUPDATE_NOT_GIVEN,
  UseProxy: '',
  ProxyHost: '',
};

function memoryRegistry(initial: Record<string, string> | null) {
  let values = initial ? { ...initial } : null;
  const registry: InstallRegistry = {
    read: async () => (values ? { ...values } : null),
    delete: async (names) => {
      for (const n of names) if (values) delete values[n];
    },
  };
  return {
    registry,
    replace: (next: Record<string, string> | null) => (values = next ? { ...next } : null),
  };
}

describe('an installer token that could not register yet survives an upgrade', () => {
  let base: string;
  let files: AgentFiles;
  const log = pino({ level: 'silent' });

  beforeEach(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-pending-'));
    files = agentFiles({ base, conf: path.join(base, 'conf'), logs: path.join(base, 'logs') });
    fs.mkdirSync(path.join(base, 'conf'), { recursive: true });
  });

  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  async function start(reg: ReturnType<typeof memoryRegistry>, managerUp: boolean) {
    const calls: Array<[string, string, string | undefined]> = [];
    const outcome = await applyInstallProperties({
      registry: reg.registry,
      files,
      log,
      register: async (token, server, caFile) => {
        calls.push([token, server, caFile]);
        if (!managerUp) throw new Error(`connect ECONNREFUSED ${server}`);
      },
    });
    return { outcome, calls };
  }

  it('registers with the kept token after an upgrade emptied the registry', async () => {
    const reg = memoryRegistry(FIRST_INSTALL);
    expect((await start(reg, false)).outcome).toBe('registration-failed');

    reg.replace(UPGRADE_WITHOUT_PROPERTIES);
    const after = await start(reg, true);
    expect(after.outcome).toBe('registered');
    expect(after.calls).toEqual([[TOKEN, SERVER, undefined]]);
    expect(fs.existsSync(pendingTokenFile(files))).toBe(false);
  });

  it('registers with the kept token when the install key is gone altogether', async () => {
    const reg = memoryRegistry(FIRST_INSTALL);
    await start(reg, false);
    reg.replace(null);
    const after = await start(reg, true);
    expect(after.outcome).toBe('registered');
    expect(after.calls).toEqual([[TOKEN, SERVER, undefined]]);
  });

  it('keeps the token sealed, never in clear on disk, and keeps retrying', async () => {
    const reg = memoryRegistry(FIRST_INSTALL);
    await start(reg, false);
    reg.replace(UPGRADE_WITHOUT_PROPERTIES);
    expect((await start(reg, false)).outcome).toBe('registration-failed');

    for (const f of fs.readdirSync(path.join(base, 'conf'))) {
      expect(fs.readFileSync(path.join(base, 'conf', f), 'utf8')).not.toContain(TOKEN);
    }
    if (process.platform !== 'win32') {
      expect(fs.statSync(pendingTokenFile(files)).mode & 0o077).toBe(0);
    }
  });

  it('prefers a new token given to the upgrade over the kept one', async () => {
    const reg = memoryRegistry(FIRST_INSTALL);
    await start(reg, false);
    reg.replace({ ...UPGRADE_WITHOUT_PROPERTIES, Token: 'tok-new', ServerUrl: SERVER });
    const after = await start(reg, true);
    expect(after.calls).toEqual([['tok-new', SERVER, undefined]]);
    expect(fs.existsSync(pendingTokenFile(files))).toBe(false);
  });

  it('ignores a tampered kept token instead of failing the start', async () => {
    const reg = memoryRegistry(FIRST_INSTALL);
    await start(reg, false);
    const file = pendingTokenFile(files);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    stored.token = stored.token.slice(0, -6) + 'AAAAAA';
    fs.writeFileSync(file, JSON.stringify(stored));

    reg.replace(null);
    const after = await start(reg, true);
    expect(after.outcome).toBe('nothing');
    expect(after.calls).toEqual([]);
  });

  it('does nothing without a kept token or install values', async () => {
    const after = await start(memoryRegistry(null), true);
    expect(after).toEqual({ outcome: 'nothing', calls: [] });
  });
});
