import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultStore } from '../../agent/credstores/vault.ts';
import { createTestPki, type TestPki } from '../fakes/cyberark/pki.ts';
import { startFakeVault, type FakeVault } from '../fakes/vault/server.ts';
import { describeWithTools } from '../support/tools.ts';
import { definition, makeDeps } from './helpers.ts';

const ROLE_ID = 'role-1234';
const SECRET_ID = 'approle-Secret-9876';
const ROOT_TOKEN = 'hvs.fake-static-token-abc';

function seed(vault: FakeVault): void {
  vault.mounts.set('secret', {
    version: 2,
    secrets: new Map<string, Record<string, unknown> | null>([
      ['servers/web1', { username: 'deploy', password: 'Web1-Pa55word' }],
      [
        'servers/keyed',
        { username: 'root', private_key_path: '/etc/keys/id_rsa', pass_phrase: 'kp' },
      ],
      ['servers/both', { username: 'x', password: 'p', private_key_path: '/k' }],
      ['servers/nouser', { password: 'p' }],
      ['servers/deleted', null],
      ['restricted/db', { username: 'db', password: 'Db-Pa55' }],
    ]),
  });
  vault.mounts.set('kv1', {
    version: 1,
    secrets: new Map([['legacy', { username: 'old', password: 'Old-Pa55' }]]),
  });
  vault.addToken(ROOT_TOKEN, {
    ttl: 0,
    renewable: false,
    allowed: ['secret/data/servers', 'kv1/'],
  });
}

describe('vault store (plain HTTP fake)', () => {
  let vault: FakeVault;

  beforeAll(async () => {
    vault = await startFakeVault({ roleId: ROLE_ID, secretId: SECRET_ID, leaseSeconds: 3600 });
    seed(vault);
  });
  afterAll(() => vault.close());

  const tokenStore = (settings = {}) =>
    new VaultStore(
      definition('vault', { address: vault.url, ...settings }, { token: ROOT_TOKEN }),
      makeDeps(),
    );

  it('reads a KV v2 secret with a static token', async () => {
    const store = tokenStore();
    expect(await store.getCredential('servers/web1')).toEqual({
      username: 'deploy',
      password: 'Web1-Pa55word',
      privateKeyPath: undefined,
      passPhrase: undefined,
    });
    expect(vault.requests.at(-1)?.path).toBe('/v1/secret/data/servers/web1');
    await store.close();
  });

  it('asks Vault which KV version a mount has when none is configured', async () => {
    const store = tokenStore({ mount: 'kv1' });
    expect((await store.getCredential('legacy')).username).toBe('old');
    expect(vault.requests.map((r) => r.path)).toContain('/v1/sys/internal/ui/mounts/kv1');
    expect(vault.requests.at(-1)?.path).toBe('/v1/kv1/legacy');
    await store.close();
  });

  it('reads a KV v1 secret', async () => {
    const store = tokenStore({ mount: 'kv1', kv_version: 1 });
    expect((await store.getCredential('legacy')).username).toBe('old');
    expect(vault.requests.at(-1)?.path).toBe('/v1/kv1/legacy');
    await store.close();
  });

  it('accepts a key-based secret with a pass phrase', async () => {
    const store = tokenStore();
    const cred = await store.getCredential('servers/keyed');
    expect(cred).toMatchObject({
      username: 'root',
      privateKeyPath: '/etc/keys/id_rsa',
      passPhrase: 'kp',
    });
    await store.close();
  });

  it.each([
    ['servers/both', /"servers\/both".*both "password" and "private_key_path"/],
    ['servers/nouser', /"servers\/nouser".*no "username"/],
    ['servers/missing', /HTTP 404.*check the secret path/],
    ['servers/deleted', /has no data/],
    ['restricted/db', /HTTP 403.*permission denied.*policies/s],
  ])('rejects %s with a clear error', async (ref, message) => {
    const store = tokenStore();
    await expect(store.getCredential(ref)).rejects.toThrow(message);
    await store.close();
  });

  it(
    'logs in with AppRole, renews before expiry ' + 'and logs in again when renewal is refused',
    async () => {
      let clock = 1_000_000;
      const deps = makeDeps();
      const def = definition(
        'vault',
        { address: vault.url, role_id: ROLE_ID },
        { secret_id: SECRET_ID },
      );
      const store = new VaultStore(def, deps, () => clock);
      const count = (p: string) => vault.requests.filter((r) => r.path === p).length;
      const logins = count('/v1/auth/approle/login');
      const renewals = count('/v1/auth/token/renew-self');

      await store.getCredential('servers/web1');
      expect(count('/v1/auth/approle/login')).toBe(logins + 1);

      clock += 2500 * 1000; // past two thirds of the 3600 s lease
      await store.getCredential('servers/web1');
      expect(count('/v1/auth/token/renew-self')).toBe(renewals + 1);
      expect(count('/v1/auth/approle/login')).toBe(logins + 1);

      vault.refuseRenewal = true;
      clock += 2500 * 1000;
      await store.getCredential('servers/web1');
      vault.refuseRenewal = false;
      expect(count('/v1/auth/approle/login')).toBe(logins + 2);
      expect(deps.logText()).not.toContain(SECRET_ID);
      expect(deps.logText()).not.toContain('hvs.');
      await store.close();
    },
  );

  it('logs in again when the AppRole token expired early', async () => {
    const store = new VaultStore(
      definition('vault', { address: vault.url, role_id: ROLE_ID }, { secret_id: SECRET_ID }),
      makeDeps(),
    );
    await store.getCredential('servers/web1');
    for (const t of vault.tokens.values()) if (t.ttl === 3600) t.expired = true;
    expect((await store.getCredential('servers/web1')).username).toBe('deploy');
    await store.close();
  });

  it('reports an expired static token with what to do', async () => {
    vault.addToken('hvs.short', { ttl: 60, renewable: true });
    let clock = 0;
    const store = new VaultStore(
      definition('vault', { address: vault.url }, { token: 'hvs.short' }),
      makeDeps(),
      () => clock,
    );
    await store.getCredential('servers/web1');
    vault.tokens.get('hvs.short')!.expired = true;
    clock += 59_000;
    await expect(store.getCredential('servers/web1')).rejects.toThrow(
      /token expired and cannot be renewed/,
    );
    await store.close();
  });

  it('rejects a wrong AppRole secret id without echoing it', async () => {
    const store = new VaultStore(
      definition(
        'vault',
        { address: vault.url, role_id: ROLE_ID },
        { secret_id: 'wrong-Secret-id' },
      ),
      makeDeps(),
    );
    const err = await store.getCredential('servers/web1').catch((e: Error) => e);
    expect(String(err)).toMatch(/AppRole login failed.*HTTP 400.*invalid secret id/);
    expect(String(err)).not.toContain('wrong-Secret-id');
    await store.close();
  });

  it('reports an unreachable Vault with its address', async () => {
    const store = new VaultStore(
      definition('vault', { address: 'http://127.0.0.1:1' }, { token: ROOT_TOKEN }),
      makeDeps(),
    );
    await expect(store.check()).rejects.toThrow(/127\.0\.0\.1:1 cannot be reached \(ECONNREFUSED/);
    await store.close();
  });
});

describe('vault store namespace', () => {
  it('sends X-Vault-Namespace and fails clearly without it', async () => {
    const vault = await startFakeVault({ namespace: 'team-a' });
    seed(vault);
    const ok = new VaultStore(
      definition('vault', { address: vault.url, namespace: 'team-a' }, { token: ROOT_TOKEN }),
      makeDeps(),
    );
    expect((await ok.getCredential('servers/web1')).username).toBe('deploy');
    expect(vault.requests.at(-1)?.namespace).toBe('team-a');

    const wrong = new VaultStore(
      definition('vault', { address: vault.url }, { token: ROOT_TOKEN }),
      makeDeps(),
    );
    await expect(wrong.getCredential('servers/web1')).rejects.toThrow(/HTTP 403.*namespace/s);
    await Promise.all([ok.close(), wrong.close(), vault.close()]);
  });
});

describeWithTools('vault store over HTTPS with a custom CA', ['openssl'], () => {
  let pki: TestPki;
  let vault: FakeVault;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-vault-pki-'));

  beforeAll(async () => {
    pki = await createTestPki(dir);
    vault = await startFakeVault({
      tls: {
        key: fs.readFileSync(pki.serverKey, 'utf8'),
        cert: fs.readFileSync(pki.serverCert, 'utf8'),
      },
    });
    seed(vault);
  });
  afterAll(async () => {
    await vault.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('trusts the configured CA file', async () => {
    const store = new VaultStore(
      definition('vault', { address: vault.url, ca_file: pki.caCert }, { token: ROOT_TOKEN }),
      makeDeps(),
    );
    expect((await store.getCredential('servers/web1')).username).toBe('deploy');
    await store.close();
  });

  it('refuses the server without the CA', async () => {
    const store = new VaultStore(
      definition('vault', { address: vault.url }, { token: ROOT_TOKEN }),
      makeDeps(),
    );
    await expect(store.getCredential('servers/web1')).rejects.toThrow(/cannot be reached.*CA/);
    await store.close();
  });
});
