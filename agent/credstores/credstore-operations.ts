import { OperationalError, UsageError } from '../cli/errors.ts';
import { describeCredential, type SecretFields } from './credential.ts';
import { LOCAL_STORE_NAME, LocalStore } from './local-store.ts';
import {
  getDefinition,
  hasLocalStore,
  listDefinitions,
  openDefinition,
  openStore,
  removeDefinition,
  saveDefinition,
} from './registry.ts';
import { STORE_TYPES, type StoreDefinition, type StoreDeps } from './store.ts';

/**
 * The `credstore` verbs as plain functions, run by the service when it is up (over the
 * control socket) and by the CLI directly when it is not. Nothing returned here holds a
 * secret value: only names, types, statuses and masked field lists.
 */
export interface StoreSummary {
  name: string;
  type: string;
  status: string;
}

/** Lists stores; with `probe`, each one is checked (the service does, in parallel). */
export async function listStores(deps: StoreDeps, probe: boolean): Promise<StoreSummary[]> {
  const defs = listDefinitions(deps.confDir);
  return Promise.all(
    defs.map(async ({ name, type }) => ({
      name,
      type,
      status: probe ? await probeStore(name, deps) : 'configured',
    })),
  );
}

async function probeStore(name: string, deps: StoreDeps): Promise<string> {
  try {
    const store = openStore(name, deps);
    try {
      await store.check();
      return 'ok';
    } finally {
      await store.close();
    }
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

/** Adds (or replaces) a remote store after checking its settings are complete. */
export async function addStore(deps: StoreDeps, def: StoreDefinition): Promise<StoreSummary> {
  if (!(STORE_TYPES as readonly string[]).includes(def.type) || def.type === 'local') {
    throw new UsageError(`store type must be one of vault, cyberark, delinea, not "${def.type}"`);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(def.name)) {
    throw new UsageError(`store name "${def.name}" must be 1-64 letters, digits, ".", "_" or "-"`);
  }
  checkSettings(def);
  // Constructing the client validates the settings (address, AppID, files) up front.
  await openDefinition(def, deps).close();
  saveDefinition(deps.confDir, def);
  return { name: def.name, type: def.type, status: 'configured' };
}

// Settings each remote type reads; anything else was meant for another type and would be
// silently ignored, so it is refused.
const SETTINGS_OF: Record<string, readonly string[]> = {
  vault: ['address', 'namespace', 'mount', 'kv_version', 'role_id', 'ca_file', 'use_proxy'],
  cyberark: ['url', 'app_id', 'safe', 'folder', 'client_p12', 'ca_file', 'use_proxy'],
  delinea: ['url', 'username', 'ca_file', 'use_proxy'],
};

const URL_SETTINGS = ['address', 'url'];

function checkSettings(def: StoreDefinition): void {
  const allowed = SETTINGS_OF[def.type] ?? [];
  const foreign = Object.keys(def.settings).filter((k) => !allowed.includes(k));
  if (foreign.length > 0) {
    const flags = foreign.map((k) => `--${k.replace(/_/g, '-')}`).join(', ');
    throw new UsageError(
      `${flags} ${foreign.length === 1 ? 'does' : 'do'} not ` +
        `apply to a ${def.type} store "${def.name}"; drop it`,
    );
  }
  for (const key of URL_SETTINGS) {
    const value = def.settings[key];
    if (value !== undefined && !isHttpUrl(String(value))) {
      throw new UsageError(
        `--${key} of store "${def.name}" must be an ` +
          `http:// or https:// URL, not "${String(value)}"`,
      );
    }
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '';
  } catch {
    return false;
  }
}

// Long enough for any vault path or Delinea query; a reference is not a place to store data.
const MAX_REF_LENGTH = 512;

function checkRef(ref: string): void {
  if (ref.trim() === '') throw new UsageError('secret reference is empty: name the secret');
  if (ref.length > MAX_REF_LENGTH) {
    throw new UsageError(
      `secret reference of ${ref.length} characters is too long: use at most ${MAX_REF_LENGTH}`,
    );
  }
}

export function removeStore(deps: StoreDeps, name: string): { removed: string } {
  if (name === LOCAL_STORE_NAME) {
    throw new UsageError(`${LOCAL_STORE_NAME} is created by the installer and cannot be removed`);
  }
  if (!removeDefinition(deps.confDir, name)) {
    throw new UsageError(
      `no credential store named "${name}"; see \`certagent-config credstore list\``,
    );
  }
  return { removed: name };
}

/** Checks a store and, given a reference, which fields its secret has (masked). */
export async function testStore(
  deps: StoreDeps,
  name: string,
  ref?: string,
): Promise<{ name: string; status: string; fields?: Record<string, string> }> {
  const store = openStore(name, deps);
  try {
    await store.check();
    if (!ref) return { name, status: 'ok' };
    return { name, status: 'ok', fields: describeCredential(await store.getCredential(ref)) };
  } finally {
    await store.close();
  }
}

export function initLocalStore(deps: StoreDeps): { created: boolean } {
  return { created: new LocalStore(deps.confDir).init() };
}

function localStore(deps: StoreDeps): LocalStore {
  if (!hasLocalStore(deps.confDir)) {
    throw new OperationalError(
      `${LOCAL_STORE_NAME} does not exist in ${deps.confDir}; create it with ` +
        '`certagent-config credstore init-local`',
      'credstore-missing',
    );
  }
  return new LocalStore(deps.confDir);
}

export function setLocalSecret(
  deps: StoreDeps,
  ref: string,
  fields: SecretFields,
): { stored: string } {
  checkRef(ref);
  localStore(deps).setSecret(ref, fields);
  return { stored: ref };
}

export async function getLocalSecret(
  deps: StoreDeps,
  ref: string,
): Promise<Record<string, string>> {
  return describeCredential(await localStore(deps).getCredential(ref));
}

export function deleteLocalSecret(deps: StoreDeps, ref: string): { deleted: string } {
  if (!localStore(deps).deleteSecret(ref)) {
    // Well-formed input naming an absent secret: exit 1, as `secret get` does.
    throw new OperationalError(
      `secret "${ref}" is not in ${LOCAL_STORE_NAME}; list them with ` +
        '`certagent-config credstore secret list`',
      'credstore-secret-not-found',
    );
  }
  return { deleted: ref };
}

export function listLocalSecrets(deps: StoreDeps): string[] {
  return localStore(deps).listSecrets();
}

/** Re-reads a definition: used by the service to answer for a store added offline. */
export function definitionOf(deps: StoreDeps, name: string): StoreDefinition {
  return getDefinition(deps.confDir, name);
}
