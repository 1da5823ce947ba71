import fs from 'node:fs';
import path from 'node:path';
import { OperationalError, UsageError } from '../cli/errors.ts';
import { CyberArkStore } from './cyberark.ts';
import { DelineaStore } from './delinea.ts';
import { LOCAL_STORE_NAME, LocalStore, localStoreFile } from './local-store.ts';
import type { CredentialStore, StoreDefinition, StoreDeps } from './store.ts';
import { loadOrCreateKey, openString, sealString } from './store-cipher.ts';
import { VaultStore } from './vault.ts';

// TODO: store definitions belong in conf/agent.json once the configuration module lands;
// until then they live in their own file beside it, with the same key file.
const FILE = 'credstores.json';

interface StoredDefinition extends Omit<StoreDefinition, 'secrets'> {
  /** Each value sealed with the configuration key: never plain text on disk. */
  secrets: Record<string, string>;
}

/** Path of the file holding the remote store definitions. */
export function registryFile(confDir: string): string {
  return path.join(confDir, FILE);
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
  const key = loadOrCreateKey(confDir);
  const secrets = Object.fromEntries(
    Object.entries(stored.secrets).map(([k, v]) => [
      k,
      openString(key, v, `secret "${k}" of store "${name}" in ${registryFile(confDir)}`),
    ]),
  );
  return { ...stored, secrets };
}

/** Adds or replaces a remote store definition, sealing its secrets. */
export function saveDefinition(confDir: string, def: StoreDefinition): void {
  if (def.name === LOCAL_STORE_NAME) {
    throw new UsageError(`"${LOCAL_STORE_NAME}" is reserved for the local store`);
  }
  const key = loadOrCreateKey(confDir);
  const sealed: StoredDefinition = {
    ...def,
    secrets: Object.fromEntries(
      Object.entries(def.secrets).map(([k, v]) => [k, sealString(key, v)]),
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

export function openDefinition(def: StoreDefinition, deps: StoreDeps): CredentialStore {
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

function readRegistry(confDir: string): StoredDefinition[] {
  const file = registryFile(confDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new OperationalError(
      `cannot read ${file}: ${(err as Error).message}`,
      'credstore-unreadable',
      {
        cause: err,
      },
    );
  }
  try {
    const parsed = JSON.parse(text) as { stores?: StoredDefinition[] };
    if (!Array.isArray(parsed.stores)) throw new Error('no "stores" array');
    return parsed.stores;
  } catch (err) {
    throw new OperationalError(
      `credential store list ${file} is damaged (${(err as Error).message}); fix or restore it ` +
        '(it was left untouched)',
      'credstore-damaged',
      { cause: err },
    );
  }
}

function writeRegistry(confDir: string, stores: StoredDefinition[]): void {
  fs.mkdirSync(confDir, { recursive: true, mode: 0o750 });
  const file = registryFile(confDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ stores }, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}
