import crypto from 'node:crypto';
import type { Credential } from './credential.ts';
import { LOCAL_STORE_NAME, LocalStore } from './local-store.ts';
import { getDefinition, openDefinition } from './registry.ts';
import type { CredentialStore, StoreDeps } from './store.ts';

/**
 * Keeps one open client per store for a long-running process (the service), so a Vault
 * or Delinea login is made once and then renewed, instead of a fresh login per node. A
 * store whose definition changed on disk (`credstore add` again, `remove`) is closed and
 * reopened on next use.
 */
export class StorePool {
  private readonly open = new Map<string, { store: CredentialStore; fingerprint: string }>();

  constructor(private readonly deps: () => StoreDeps) {}

  async credential(storeName: string, ref: string): Promise<Credential> {
    return (await this.store(storeName)).getCredential(ref);
  }

  async store(name: string): Promise<CredentialStore> {
    const deps = this.deps();
    if (name === LOCAL_STORE_NAME) return new LocalStore(deps.confDir);

    const def = getDefinition(deps.confDir, name);
    const fingerprint = crypto.createHash('sha256').update(JSON.stringify(def)).digest('hex');
    const cached = this.open.get(name);
    if (cached?.fingerprint === fingerprint) return cached.store;

    await cached?.store.close();
    const store = openDefinition(def, deps);
    this.open.set(name, { store, fingerprint });
    return store;
  }

  async close(): Promise<void> {
    const stores = [...this.open.values()];
    this.open.clear();
    await Promise.all(stores.map(({ store }) => store.close()));
  }
}
