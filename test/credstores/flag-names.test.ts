import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../agent/cli/main.ts';
import { DelineaStore } from '../../agent/credstores/delinea.ts';
import { vaultSettings } from '../../agent/credstores/vault.ts';
import { setConfigValue } from '../../agent/config/agent-config.ts';
import { PacFile } from '../../agent/proxy/pac-file.ts';
import { definition, makeDeps } from './helpers.ts';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-flags-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

async function helpOf(args: string[]): Promise<string> {
  let out = '';
  const sink = new Writable({
    write(chunk, _e, cb) {
      out += chunk.toString();
      cb();
    },
  });
  await main(['--base-dir', base, ...args, '--help'], {
    programName: 'certagent',
    io: { stdout: sink, stderr: sink },
  });
  return out;
}

async function messageOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a failure');
}

// Every --flag an operator is told to use must be one `credstore add` accepts.
function flagsIn(message: string): string[] {
  return [...message.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]);
}

describe('messages name flags and keys that exist', () => {
  it('store definitions missing a secret point at --secret-stdin', async () => {
    const help = await helpOf(['credstore', 'add']);
    const messages = [
      await messageOf(
        () =>
          new DelineaStore(definition('delinea', { url: 'https://d', username: 'u' }), makeDeps()),
      ),
      await messageOf(() => vaultSettings(definition('vault', { address: 'https://v' }))),
      await messageOf(() =>
        vaultSettings(definition('vault', { address: 'https://v', role_id: 'r' })),
      ),
    ];

    for (const message of messages) {
      expect(message).toContain('--secret-stdin');
      for (const flag of flagsIn(message)) expect(help, `${flag} in "${message}"`).toContain(flag);
    }
  });

  it('a PAC download failure names the proxy.pac-url config key', async () => {
    const message = await messageOf(() =>
      new PacFile('http://127.0.0.1:1/x.pac').routesFor(new URL('https://m.test/')),
    );
    const key = /config set ([a-z.-]+)/.exec(message)?.[1];

    expect(key).toBe('proxy.pac-url');
    const config = { proxy: {} } as Parameters<typeof setConfigValue>[0];
    expect(() =>
      setConfigValue(config, key!, 'http://127.0.0.1/p.pac', () => ({}) as never),
    ).not.toThrow();
  });
});
