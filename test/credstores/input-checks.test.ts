import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../agent/cli/main.ts';
import { addStore } from '../../agent/credstores/credstore-operations.ts';
import { definition, makeDeps } from './helpers.ts';

const CLI = path.resolve('bin/certagent-config.mjs');
let base: string;

async function cli(args: string[]) {
  let stderr = '';
  const sink = new Writable({
    write(chunk, _e, cb) {
      stderr += chunk.toString();
      cb();
    },
  });
  const exitCode = await main(['--base-dir', base, ...args], {
    programName: 'certagent-config',
    io: { stdout: new Writable({ write: (_c, _e, cb) => cb() }), stderr: sink },
  });
  return { exitCode, stderr };
}

async function failureOf(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-credstore-input-'));
  expect((await cli(['credstore', 'init-local'])).exitCode).toBe(0);
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

describe('credstore input checks', () => {
  it.each([
    ['vault', { address: 'ftp://x' }, /--address .*http:\/\/ or https:\/\/ URL, not "ftp:\/\/x"/],
    ['vault', { address: 'not a url' }, /--address/],
    ['delinea', { url: 'file:///etc/passwd', username: 'u' }, /--url .*http/],
    ['cyberark', { url: 'javascript:1', app_id: 'a' }, /--url .*http/],
  ] as const)('refuses a %s store whose URL is not http(s): %j', async (type, settings, msg) => {
    const err = await failureOf(() =>
      addStore(makeDeps(), definition(type, { ...settings }, { token: 't', password: 'p' })),
    );
    expect(err.name).toBe('UsageError');
    expect(err.message).toMatch(msg);
  });

  it('refuses options of another store type, naming them', async () => {
    const err = await failureOf(() =>
      addStore(
        makeDeps(),
        definition(
          'vault',
          { address: 'https://127.0.0.1:1', app_id: 'x', username: 'u' },
          { token: 't' },
        ),
      ),
    );
    expect(err.name).toBe('UsageError');
    expect(err.message).toContain('--app-id, --username do not apply to a vault store');

    const delinea = await failureOf(() =>
      addStore(
        makeDeps(),
        definition('delinea', { url: 'https://d', username: 'u', mount: 'kv' }, { password: 'p' }),
      ),
    );
    expect(delinea.message).toContain('--mount does not apply to a delinea store');
  });

  it.each([
    ['an empty reference', ''],
    ['a blank reference', '   '],
    ['a 5000-character reference', 'r'.repeat(5000)],
  ])('secret set refuses %s with exit 2, storing nothing', async (_t, ref) => {
    const res = await execa(
      'node',
      [CLI, '--base-dir', base, 'credstore', 'secret', 'set', ref, '--username', 'u'].concat(
        '--password-stdin',
      ),
      { input: 'Pa55-word\n', reject: false },
    );
    expect(res.exitCode, res.stderr).toBe(2);
    expect(res.stderr).toMatch(/secret reference/);

    const list = await execa('node', [CLI, '--base-dir', base, 'credstore', 'secret', 'list']);
    expect(list.stdout).toContain('local-store holds no secrets');
  });

  it('secret get and delete of an absent secret both exit 1', async () => {
    const get = await cli(['credstore', 'secret', 'get', 'nope']);
    const del = await cli(['credstore', 'secret', 'delete', 'nope']);

    expect(get.exitCode).toBe(1);
    expect(del.exitCode).toBe(1);
    expect(del.stderr).toMatch(/secret "nope" is not in local-store/);
  });
});
