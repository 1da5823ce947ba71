import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveDefinition, removeDefinition } from '../../agent/credstores/registry.ts';
import { StorePool } from '../../agent/credstores/store-pool.ts';
import { startFakeVault, type FakeVault } from '../fakes/vault/server.ts';
import { makeDeps } from './helpers.ts';

describe('store pool', () => {
  let vault: FakeVault;

  beforeAll(async () => {
    vault = await startFakeVault({ roleId: 'r', secretId: 's1' });
    vault.mounts.set('secret', {
      version: 2,
      secrets: new Map([['a', { username: 'u', password: 'p' }]]),
    });
  });
  afterAll(() => vault.close());

  it('logs in once for many reads, and again only when the definition changes', async () => {
    const deps = makeDeps();
    const def = {
      name: 'v',
      type: 'vault' as const,
      settings: { address: vault.url, role_id: 'r' },
      secrets: { secret_id: 's1' },
    };
    saveDefinition(deps.confDir, def);
    const pool = new StorePool(() => deps);
    const logins = () => vault.requests.filter((r) => r.path === '/v1/auth/approle/login').length;
    const before = logins();

    for (let i = 0; i < 3; i++) expect((await pool.credential('v', 'a')).username).toBe('u');
    expect(logins()).toBe(before + 1);

    saveDefinition(deps.confDir, { ...def, settings: { ...def.settings, mount: 'secret' } });
    await pool.credential('v', 'a');
    expect(logins()).toBe(before + 2);

    removeDefinition(deps.confDir, 'v');
    await expect(pool.credential('v', 'a')).rejects.toThrow(/no credential store named "v"/);
    await pool.close();
  });
});
