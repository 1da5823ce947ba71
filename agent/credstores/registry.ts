import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../cli/errors.ts';
import { loadAgentConfig, saveAgentConfig } from '../config/agent-config.ts';
import { CyberArkStore } from './cyberark.ts';
import { DelineaStore } from './delinea.ts';
import { LOCAL_STORE_NAME, LocalStore, localStoreFile } from './local-store.ts';
import type { CredentialStore, StoreDefinition, StoreDeps } from './store.ts';
import { openSealed, storeBox } from './store-cipher.ts';
import { VaultStore } from './vault.ts';

/** The section of conf/agent.json that holds the remote store definitions. */
const SECTION = 'credstores';

interface StoredDefinition extends Omit<StoreDefinition, 'secrets'> {
  /** Each value sealed by SecretBox: never plain text on disk. */
  secrets: Record<string, string>;
}

/** conf/agent.json (agent/config/agent-files.ts names the same file). */
export function registryFile(confDir: string): string {
  return path.join(confDir, 'agent.json');
}

/** Every configured store, the local one first when it exists. Secrets stay sealed. */
export function listDefinitions(confDir: string): Array<Pick<StoreDefinition, 'name' | 'type'>> {
  const local = fs.existsSync(localStoreFile(confDir))
    ? [{ name: LOCAL_STORE_NAME, type: 'local' as const }]
    : [];
  return [...local, ...readRegistry(confDir).map(({ name, type }) => ({ name, type }))];
}

/** One store definition with its secrets decrypted, for opening the store. */
export function getDefinition(confDir: string, name: string): StoreDefinition {
  const stored = readRegistry(confDir).find((d) => d.name === name);
  if (!stored) {
    throw new UsageError(
      `no credential store named "${name}"; see \`certagent-config credstore list\``,
      'credstore-unknown',
    );
  }
  const box = storeBox(confDir);
  const secrets = Object.fromEntries(
    Object.entries(stored.secrets).map(([k, v]) => [
      k,
      openSealed(
        box,
        v,
        sealContext(name, k),
        `"${k}" of store "${name}" in ${registryFile(confDir)}`,
      ),
    ]),
  );
  return { ...stored, secrets };
}

/** Adds or replaces a remote store definition, sealing its secrets. */
export function saveDefinition(confDir: string, def: StoreDefinition): void {
  if (def.name === LOCAL_STORE_NAME) {
    throw new UsageError(`"${LOCAL_STORE_NAME}" is reserved for the local store`);
  }
  const box = storeBox(confDir);
  const sealed: StoredDefinition = {
    ...def,
    secrets: Object.fromEntries(
      Object.entries(def.secrets).map(([k, v]) => [k, box.seal(v, sealContext(def.name, k))]),
    ),
  };
  const others = readRegistry(confDir).filter((d) => d.name !== def.name);
  writeRegistry(confDir, [...others, sealed]);
}

export function removeDefinition(confDir: string, name: string): boolean {
  const all = readRegistry(confDir);
  const kept = all.filter((d) => d.name !== name);
  if (kept.length === all.length) return false;
  writeRegistry(confDir, kept);
  return true;
}

/** Opens a store by name: the local store, or a configured remote one. */
export function openStore(name: string, deps: StoreDeps): CredentialStore {
  if (name === LOCAL_STORE_NAME) return new LocalStore(deps.confDir);
  return openDefinition(getDefinition(deps.confDir, name), deps);
}

export function openDefinition(def: StoreDefinition, allDeps: StoreDeps): CredentialStore {
  const deps = def.settings.use_proxy ? allDeps : { ...allDeps, proxyDispatcher: undefined };
  switch (def.type) {
    case 'vault':
      return new VaultStore(def, deps);
    case 'cyberark':
      return new CyberArkStore(def, deps);
    case 'delinea':
      return new DelineaStore(def, deps);
    case 'local':
      return new LocalStore(deps.confDir, def.name);
  }
}

function sealContext(store: string, field: string): string {
  return `credstore:${store}:${field}`;
}

function readRegistry(confDir: string): StoredDefinition[] {
  const section = loadAgentConfig(registryFile(confDir))[SECTION];
  if (section === undefined) return [];
  if (!Array.isArray(section)) {
    throw new UsageError(
      `the "${SECTION}" section of ${registryFile(confDir)} is not a list; fix it or remove it`,
      'credstore-damaged',
    );
  }
  return section as StoredDefinition[];
}

function writeRegistry(confDir: string, stores: StoredDefinition[]): void {
  const file = registryFile(confDir);
  const config = loadAgentConfig(file);
  config[SECTION] = stores;
  saveAgentConfig(file, config);
}

/** True when the local store file exists (it is created at install). */
export function hasLocalStore(confDir: string): boolean {
  return fs.existsSync(localStoreFile(confDir));
}
