import fs from 'node:fs';
import { OperationalError, UsageError } from '../cli/errors.ts';
import { toCredential, type Credential } from './credential.ts';
import { looksLikePrivateKey, writeKeyFile } from './key-file.ts';
import type { CredentialStore, StoreDefinition, StoreDeps, StoreTlsOptions } from './store.ts';
import { bodySummary, StoreHttp, type StoreResponse } from './store-http.ts';

/** The parameters a Central Credential Provider query may carry. */
const QUERY_KEYS = [
  'Safe',
  'Folder',
  'Object',
  'UserName',
  'Address',
  'Database',
  'PolicyID',
  'Reason',
  'Query',
  'QueryFormat',
];

/**
 * What CCP error codes mean for the operator. The codes come from the provider; the
 * advice is ours. Unknown codes are shown with the provider's own text.
 */
const CCP_ERRORS: Record<string, string> = {
  APPAP004E:
    'no account matches the query: check Safe, Folder and Object, and that the ' +
    'AppID and the Credential Provider user are members of the safe',
  APPAP227E:
    'several accounts match the query: add Folder/Object (or a stricter Query) so ' +
    'exactly one matches',
  APPAP282E:
    'the provider did not accept this application: check the client certificate ' +
    '(.p12) configured for the store and the AppID authentication methods in CyberArk',
  APPAP306E:
    'the provider did not authenticate the application: check the AppID exists and ' +
    'that this machine (address, OS user, certificate) is allowed for it',
  APPAP007E: 'the Credential Provider cannot reach the CyberArk Vault; ask its administrator',
};

/**
 * CyberArk Central Credential Provider: GET /AIMWebService/api/Accounts with the AppID and
 * the account query, optionally authenticated with a client certificate from a .p12.
 */
export class CyberArkStore implements CredentialStore {
  readonly type = 'cyberark' as const;
  readonly name: string;
  private readonly http: StoreHttp;
  private readonly base: URL;
  private readonly appId: string;

  constructor(
    private readonly def: StoreDefinition,
    private readonly deps: StoreDeps,
  ) {
    this.name = def.name;
    const s = def.settings;
    if (!s.url) throw new UsageError(`cyberark store "${def.name}" needs --url`);
    if (!s.app_id) throw new UsageError(`cyberark store "${def.name}" needs --app-id`);
    this.base = new URL(String(s.url));
    this.appId = String(s.app_id);
    this.http = new StoreHttp(def.name, this.tlsOptions(), deps);
  }

  private tlsOptions(): StoreTlsOptions {
    const s = this.def.settings;
    const tls: StoreTlsOptions = {};
    if (s.ca_file) tls.ca = readFile(String(s.ca_file), this.name, 'CA file').toString('utf8');
    if (s.client_p12) {
      tls.pfx = readFile(String(s.client_p12), this.name, 'client certificate (.p12)');
      tls.passphrase = this.def.secrets.p12_password ?? '';
    }
    return tls;
  }

  async getCredential(ref: string): Promise<Credential> {
    const account = await this.fetchAccount(ref);
    // CCP returns the secret in Content: a password, or the key of an SSH-key account.
    if (looksLikePrivateKey(account.Content)) {
      const file = writeKeyFile(this.deps.confDir, `cyberark-${this.name}`, ref, account.Content);
      return toCredential(this.name, ref, { username: account.UserName, private_key_path: file });
    }
    return toCredential(this.name, ref, { username: account.UserName, password: account.Content });
  }

  /** Reachability check: any answer from the provider (even "not found") proves it is up. */
  async check(): Promise<void> {
    const url = new URL('AIMWebService/api/Accounts', withSlash(this.base));
    url.searchParams.set('AppID', this.appId);
    url.searchParams.set('Query', 'Safe=certagent-connectivity-check');
    const res = await this.http.send({
      method: 'GET',
      url,
      headers: { accept: 'application/json' },
    });
    const code = (res.body as { ErrorCode?: string } | undefined)?.ErrorCode;
    if (res.status === 200 || code === 'APPAP004E') return;
    throw this.ccpError(res, 'connectivity check');
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async fetchAccount(ref: string): Promise<Record<string, string>> {
    const url = new URL('AIMWebService/api/Accounts', withSlash(this.base));
    url.searchParams.set('AppID', this.appId);
    for (const [k, v] of this.queryOf(ref)) url.searchParams.set(k, v);

    const res = await this.http.send({
      method: 'GET',
      url,
      headers: { accept: 'application/json' },
    });
    if (res.status !== 200) throw this.ccpError(res, `secret "${ref}"`);
    const body = res.body as Record<string, string> | undefined;
    if (!body || typeof body !== 'object' || !('Content' in body)) {
      throw new OperationalError(
        `cyberark store "${this.name}": the answer for "${ref}" has no Content field; is ` +
          `${this.base.origin} a Central Credential Provider?`,
        'credstore-protocol',
      );
    }
    return body;
  }

  /**
   * A reference is `Key=Value;Key=Value` (Safe, Folder, Object, ... or Query=...), or a bare
   * object name looked up in the store's default safe and folder.
   */
  queryOf(ref: string): Array<[string, string]> {
    if (ref.startsWith('Query=')) return [['Query', ref.slice('Query='.length)]];
    if (!ref.includes('=')) return this.defaults(ref);

    const pairs: Array<[string, string]> = [];
    for (const part of ref.split(';').filter(Boolean)) {
      const eq = part.indexOf('=');
      const key = QUERY_KEYS.find(
        (k) => k.toLowerCase() === part.slice(0, eq).trim().toLowerCase(),
      );
      if (eq < 0 || !key) {
        throw new UsageError(
          `cyberark secret reference "${ref}": "${part}" is not Key=Value with a key among ` +
            QUERY_KEYS.join(', '),
        );
      }
      pairs.push([key, part.slice(eq + 1)]);
    }
    return pairs;
  }

  private defaults(object: string): Array<[string, string]> {
    const s = this.def.settings;
    if (!s.safe) {
      throw new UsageError(
        `cyberark secret reference "${object}" names no safe and store "${this.name}" has no ` +
          'default --safe; use Safe=...;Object=...',
      );
    }
    const pairs: Array<[string, string]> = [['Safe', String(s.safe)]];
    if (s.folder) pairs.push(['Folder', String(s.folder)]);
    pairs.push(['Object', object]);
    return pairs;
  }

  private ccpError(res: StoreResponse, what: string): OperationalError {
    const body = res.body as { ErrorCode?: string; ErrorMsg?: string } | undefined;
    const code = body?.ErrorCode;
    const advice = code ? (CCP_ERRORS[code] ?? 'see the CyberArk documentation for this code') : '';
    const detail = code ? `${code}: ${body?.ErrorMsg ?? ''}` : bodySummary(res.body);
    return new OperationalError(
      `cyberark store "${this.name}" (AppID ${this.appId}) ` +
        `refused ${what} at ${this.base.origin} ` +
        `(HTTP ${res.status}, ${detail})${advice ? `; ${advice}` : ''}`,
      code === 'APPAP004E' ? 'credstore-secret-not-found' : 'credstore-denied',
    );
  }
}

function withSlash(url: URL): URL {
  return url.pathname.endsWith('/') ? url : new URL(`${url.href}/`);
}

function readFile(file: string, store: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new OperationalError(
      `cyberark store "${store}": cannot read ${what} ${file}: ${(err as Error).message}`,
      'credstore-file-unreadable',
      { cause: err },
    );
  }
}
