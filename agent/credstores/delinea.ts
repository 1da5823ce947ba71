import fs from 'node:fs';
import { OperationalError, UsageError } from '../cli/errors.ts';
import { toCredential, type Credential, type SecretFields } from './credential.ts';
import { looksLikePrivateKey, writeKeyFile } from './key-file.ts';
import type { CredentialStore, StoreDefinition, StoreDeps } from './store.ts';
import { bodySummary, StoreHttp, type StoreResponse } from './store-http.ts';

interface DelineaToken {
  access: string;
  refresh?: string;
  /** Epoch ms after which the access token is refreshed before use. */
  refreshAt: number;
}

interface DelineaItem {
  slug?: string;
  fieldName?: string;
  itemValue?: string;
  isFile?: boolean;
}

/** Secret Server field slugs, per credential field, in order of preference. */
const SLUGS: Record<string, string[]> = {
  username: ['username', 'user-name', 'login'],
  password: ['password'],
  private_key_path: ['private-key-path'],
  pass_phrase: ['private-key-passphrase', 'passphrase'],
};

/**
 * Delinea Secret Server: OAuth2 password grant on /oauth2/token, refresh-token renewal,
 * secrets by id (/api/v1/secrets/{id}) or by folder path and name (secretPath).
 */
export class DelineaStore implements CredentialStore {
  readonly type = 'delinea' as const;
  readonly name: string;
  private readonly http: StoreHttp;
  private readonly base: URL;
  private token?: DelineaToken;

  constructor(
    private readonly def: StoreDefinition,
    private readonly deps: StoreDeps,
    private readonly now: () => number = Date.now,
  ) {
    this.name = def.name;
    const s = def.settings;
    if (!s.url) throw new UsageError(`delinea store "${def.name}" needs --url`);
    if (!s.username || !def.secrets.password) {
      throw new UsageError(
        `delinea store "${def.name}" needs --username and its password (--secret-stdin)`,
      );
    }
    this.base = new URL(String(s.url).replace(/\/*$/, '/'));
    const ca = s.ca_file ? fs.readFileSync(String(s.ca_file), 'utf8') : undefined;
    this.http = new StoreHttp(def.name, { ca }, deps);
  }

  async getCredential(ref: string): Promise<Credential> {
    const { id, items } = await this.fetchSecret(ref);
    const fields = mapFields(items);
    const keyFile = items.find((i) => i.slug === 'private-key' && i.isFile);
    if (keyFile && !fields.password && !fields.private_key_path) {
      fields.private_key_path = await this.downloadKey(id, ref);
    }
    return toCredential(this.name, ref, fields);
  }

  // An SSH key template keeps the key as an attached file, fetched by its field slug.
  private async downloadKey(id: number, ref: string): Promise<string> {
    const url = new URL(`api/v1/secrets/${id}/fields/private-key`, this.base);
    const res = await this.authorized(url);
    const pem = typeof res.body === 'string' ? res.body : undefined;
    if (res.status !== 200 || !looksLikePrivateKey(pem)) {
      throw this.apiError(res, `downloading the private key of secret "${ref}"`);
    }
    return writeKeyFile(this.deps.confDir, `delinea-${this.name}`, String(id), pem);
  }

  async check(): Promise<void> {
    await this.accessToken();
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async fetchSecret(ref: string): Promise<{ id: number; items: DelineaItem[] }> {
    const url = this.secretUrl(ref);
    let res = await this.authorized(url);
    if (res.status === 401) {
      // The token may have been revoked early: one refresh, then one more try.
      this.token = undefined;
      res = await this.authorized(url);
    }
    if (res.status !== 200) throw this.apiError(res, `reading secret "${ref}"`);
    const body = res.body as { id?: number; items?: DelineaItem[] } | undefined;
    const items = body?.items;
    if (!Array.isArray(items) || typeof body?.id !== 'number') {
      throw new OperationalError(
        `delinea store "${this.name}": the answer for "${ref}" has no items; is ` +
          `${this.base.origin} a Secret Server?`,
        'credstore-protocol',
      );
    }
    return { id: body.id, items };
  }

  /** A numeric reference is a secret id; anything else is a folder path and name. */
  secretUrl(ref: string): URL {
    if (/^\d+$/.test(ref)) return new URL(`api/v1/secrets/${ref}`, this.base);
    const path = ref.replace(/\//g, '\\');
    const url = new URL('api/v1/secrets/0', this.base);
    url.searchParams.set('secretPath', path.startsWith('\\') ? path : `\\${path}`);
    return url;
  }

  private async authorized(url: URL): Promise<StoreResponse> {
    const token = await this.accessToken();
    return this.http.send({
      method: 'GET',
      url,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return this.token.access;
    if (this.token?.refresh) {
      const refreshed = await this.grant({
        grant_type: 'refresh_token',
        refresh_token: this.token.refresh,
      });
      if (refreshed.status === 200) {
        this.token = this.tokenFrom(refreshed);
        return this.token.access;
      }
      this.deps.logger.warn(
        { store: this.name, status: refreshed.status },
        'delinea refresh refused; logging in again',
      );
    }
    const res = await this.grant({
      grant_type: 'password',
      username: String(this.def.settings.username),
      password: this.def.secrets.password,
    });
    if (res.status !== 200) throw this.apiError(res, 'OAuth2 login');
    this.token = this.tokenFrom(res);
    return this.token.access;
  }

  private grant(form: Record<string, string>): Promise<StoreResponse> {
    return this.http.send({
      method: 'POST',
      url: new URL('oauth2/token', this.base),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
    });
  }

  private tokenFrom(res: StoreResponse): DelineaToken {
    const body = res.body as { access_token?: string; refresh_token?: string; expires_in?: number };
    if (!body?.access_token) {
      throw new OperationalError(
        `delinea store "${this.name}": ${this.base.origin}/oauth2/token answered without ` +
          'access_token; is this a Secret Server?',
        'credstore-protocol',
      );
    }
    const ttlMs = Number(body.expires_in ?? 0) * 1000;
    // Refresh once 90% of the lifetime has passed, so a request never carries a dead token.
    return {
      access: body.access_token,
      refresh: body.refresh_token,
      refreshAt: this.now() + ttlMs * 0.9,
    };
  }

  private apiError(res: StoreResponse, what: string): OperationalError {
    const body = res.body as {
      error?: string;
      error_description?: string;
      message?: string;
      errorCode?: string;
    };
    const detail = body?.error
      ? `${body.error}${body.error_description ? `: ${body.error_description}` : ''}`
      : body?.message
        ? `${body.errorCode ? `${body.errorCode}: ` : ''}${body.message}`
        : bodySummary(res.body);
    const hint =
      body?.error === 'invalid_grant'
        ? 'check the user name and password of the store (and that the account is not locked)'
        : 'check the secret id or path and that the store user may view the secret';
    return new OperationalError(
      `delinea store "${this.name}": ${what} failed at ` +
        `${this.base.origin} (HTTP ${res.status}, ${detail}); ${hint}`,
      body?.error === 'invalid_grant' ? 'credstore-login-failed' : 'credstore-denied',
    );
  }
}

function mapFields(items: DelineaItem[]): SecretFields {
  const fields: SecretFields = {};
  for (const [field, slugs] of Object.entries(SLUGS)) {
    const item = slugs.map((slug) => items.find((i) => i.slug === slug)).find((i) => i?.itemValue);
    if (item) fields[field] = item.itemValue;
  }
  return fields;
}
