import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../agent/cli/main.ts';
import { resolvePaths } from '../../agent/config/paths.ts';
import { agentFiles } from '../../agent/config/agent-files.ts';
import { ControlServer } from '../../agent/control/control-server.ts';
import { attachCredstoreHandlers } from '../../agent/credstores/control-handlers.ts';
import { localStoreFile } from '../../agent/credstores/local-store.ts';
import { storeDepsFor } from '../../agent/credstores/store-deps.ts';
import { startFakeVault, type FakeVault } from '../fakes/vault/server.ts';

const CLI = path.resolve('bin/certagent-config.mjs');
const LOGIN_PASSWORD = 'Cli-Login-Pa55-q9';
const VAULT_TOKEN = 'hvs.cli-token-7731';

// Verbs that read a secret from stdin run as a child process (the real entry point); the
// rest run in this process through the same main(), which is much faster on a busy machine.
async function cli(base: string, args: string[], input?: string) {
  if (input !== undefined) {
    const res = await execa('node', [CLI, '--base-dir', base, ...args], {
      input,
      reject: false,
      env: { CERTAGENT_LOG_LEVEL: 'debug' },
    });
    return { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr };
  }
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _e, cb) {
        append(chunk.toString());
        cb();
      },
    });
  const exitCode = await main(['--base-dir', base, ...args], {
    programName: 'certagent-config',
    io: { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) },
  });
  return { exitCode, stdout: stdout.trimEnd(), stderr: stderr.trimEnd() };
}

function allFiles(dir: string): string {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), 'latin1'))
    .join('\n');
}

describe('certagent-config credstore', () => {
  let base: string;
  let vault: FakeVault;

  beforeAll(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-cli-credstore-'));
    vault = await startFakeVault();
    vault.mounts.set('secret', {
      version: 2,
      secrets: new Map([['web1', { username: 'deploy', password: 'Vault-Held-Pa55' }]]),
    });
    vault.addToken(VAULT_TOKEN, { ttl: 0, renewable: false });
  });
  afterAll(async () => {
    await vault.close();
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('works offline on the configuration, saying the service is down', async () => {
    const init = await cli(base, ['credstore', 'init-local']);
    expect(init.exitCode).toBe(0);
    expect(init.stdout).toBe('local-store created');
    expect(init.stderr).toContain('service not running; working on the configuration');

    const set = await cli(
      base,
      ['credstore', 'secret', 'set', 'web1', '--username', 'deploy', '--password-stdin'],
      `${LOGIN_PASSWORD}\n`,
    );
    expect(set.exitCode, set.stderr).toBe(0);

    const get = await cli(base, ['credstore', 'secret', 'get', 'web1']);
    expect(get.stdout).toBe('username: d****y\npassword: ********');
  });

  it('adds a Vault store with the token from stdin and tests a secret, masked', async () => {
    const add = await cli(
      base,
      [
        'credstore',
        'add',
        'corp-vault',
        '--type',
        'vault',
        '--address',
        vault.url,
        '--secret-stdin',
      ],
      `${VAULT_TOKEN}\n`,
    );
    expect(add.exitCode, add.stderr).toBe(0);

    const list = await cli(base, ['credstore', 'list']);
    expect(list.stdout).toMatch(/^local-store +local +configured\ncorp-vault +vault +configured$/);

    const test = await cli(base, ['credstore', 'test', 'corp-vault', '--secret', 'web1']);
    expect(test.exitCode, test.stderr).toBe(0);
    expect(test.stdout).toBe(
      'credential store "corp-vault": ok\n  username: d****y\n  password: ********',
    );
  });

  it('keeps every secret out of files, output and logs', async () => {
    const conf = resolvePaths(base).conf;
    const everything = [allFiles(base), (await cli(base, ['credstore', 'list', '--json'])).stdout];
    for (const text of everything) {
      for (const secret of [LOGIN_PASSWORD, VAULT_TOKEN, 'Vault-Held-Pa55'])
        expect(text).not.toContain(secret);
    }
    expect(fs.statSync(path.join(conf, 'secret.key')).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['an unknown store', ['credstore', 'test', 'nope'], 2, /no credential store named "nope"/],
    [
      'an unreachable store',
      [
        'credstore',
        'add',
        'dead',
        '--type',
        'delinea',
        '--url',
        'http://127.0.0.1:1',
        '--username',
        'u',
        '--secret-stdin',
      ],
      0,
      /saved/,
    ],
    [
      'a test of the unreachable store',
      ['credstore', 'test', 'dead'],
      1,
      /"dead" at http:\/\/127\.0\.0\.1:1 cannot be reached/,
    ],
    [
      'a missing secret on stdin',
      ['credstore', 'secret', 'set', 'x', '--username', 'u', '--password-stdin'],
      2,
      /stdin held no password/,
    ],
    ['removing local-store', ['credstore', 'remove', 'local-store'], 2, /cannot be removed/],
    [
      'a bad store type',
      ['credstore', 'add', 'x', '--type', 'ldap'],
      2,
      /--type must be vault, cyberark or delinea/,
    ],
  ])('handles %s', async (_t, args, code, message) => {
    // The unreachable store gets a password on stdin; the other stdin case gets nothing.
    const stdin = args.some((a) => a.endsWith('-stdin'))
      ? args[1] === 'add'
        ? 'pw\n'
        : ''
      : undefined;
    const res = await cli(base, args, stdin);
    expect(res.exitCode, res.stderr).toBe(code);
    expect(`${res.stdout}\n${res.stderr}`).toMatch(message);
  });

  it('reports a damaged local-store naming the file, and leaves it', async () => {
    const file = localStoreFile(resolvePaths(base).conf);
    const good = fs.readFileSync(file, 'utf8');
    const damaged = `${good.trimEnd().slice(0, -4)}AAAA\n`;
    expect(damaged).not.toBe(good);
    fs.writeFileSync(file, damaged);
    const res = await cli(base, ['credstore', 'secret', 'get', 'web1']);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain(`local store ${file} cannot be decrypted`);
    expect(fs.readFileSync(file, 'utf8')).toBe(damaged);
    fs.writeFileSync(file, good);
  });

  it('asks the running service over the control socket when it is up', async () => {
    const paths = resolvePaths(base);
    const control = new ControlServer(agentFiles(paths).controlSocket, pino({ level: 'silent' }));
    attachCredstoreHandlers(control, () => storeDepsFor(paths.conf, pino({ level: 'silent' })));
    await control.listen();
    try {
      const res = await cli(base, ['credstore', 'list']);
      expect(res.stderr).not.toContain('service not running');
      expect(res.stdout).toMatch(/^local-store +local +ok$/m);
      expect(res.stdout).toMatch(/^corp-vault +vault +ok$/m);
      expect(res.stdout).toMatch(/^dead +delinea +error: .*cannot be reached/m);

      const unknown = await cli(base, ['credstore', 'test', 'nope']);
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toMatch(/no credential store named "nope"/);
      const missing = await cli(base, ['credstore', 'secret', 'get', 'not-there']);
      expect(missing.exitCode).toBe(1);
      expect(missing.stderr).toMatch(/secret "not-there" is not in local-store/);
    } finally {
      await control.close();
    }
  });
});
