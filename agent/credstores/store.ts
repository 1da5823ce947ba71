import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { Credential } from './credential.ts';

/** The credential store types the agent can read logins from. */
export const STORE_TYPES = ['local', 'vault', 'cyberark', 'delinea'] as const;
export type StoreType = (typeof STORE_TYPES)[number];

/** One configured store; type-specific settings live in `settings`, secrets in `secrets`. */
export interface StoreDefinition {
  name: string;
  type: StoreType;
  settings: Record<string, string | number | boolean>;
  /** Store-level secrets (tokens, passwords): encrypted at rest by the registry. */
  secrets: Record<string, string>;
}

/** What the engines see of a store: fetch a credential, check it can be reached. */
export interface CredentialStore {
  readonly name: string;
  readonly type: StoreType;
  getCredential(ref: string): Promise<Credential>;
  /** Proves the store is reachable and the agent's own login works. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** What remote stores need from the agent: how to reach out, and where to log. */
export interface StoreDeps {
  confDir: string;
  logger: Logger;
  /** Dispatcher through the configured proxy, when the agent uses one. */
  proxyDispatcher?: (tls: StoreTlsOptions) => Dispatcher;
}

export interface StoreTlsOptions {
  ca?: string;
  pfx?: Buffer;
  passphrase?: string;
}
