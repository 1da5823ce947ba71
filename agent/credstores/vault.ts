import fs from 'node:fs';
import { OperationalError, UsageError } from '../cli/errors.ts';
import { toCredential, type Credential, type SecretFields } from './credential.ts';
import type { CredentialStore, StoreDefinition, StoreDeps } from './store.ts';
import { bodySummary, StoreHttp, type StoreResponse } from './store-http.ts';

/** Settings of a HashiCorp Vault store, read from its definition. */
export interface VaultSettings {
  address: string;
  namespace?: string;
  mount: string;
  /** Undefined: asked from Vault (sys/internal/ui/mounts) on first read. */
  kvVersion?: 1 | 2;
  auth: 'token' | 'approle';
  roleId?: string;
  caFile?: string;
}

interface VaultLogin {
  token: string;
  /** Epoch ms after which the token must be renewed; undefined when it never expires. */
  renewAt?: number;
  renewable: boolean;
}

/** Reads a store definition into typed Vault settings, rejecting incomplete ones. */
export function vaultSettings(def: StoreDefinition): VaultSettings {
  const s = def.settings;
  if (!s.address) throw new UsageError(`vault store "${def.name}" needs an address (--address)`);
  const auth = s.role_id ? 'approle' : 'token';
  if (auth === 'token' && !def.secrets.token) {
    throw new UsageError(
      `vault store "${def.name}" needs a token (--secret-stdin), ` +
        `or --role-id with its secret_id (--secret-stdin)`,
    );
  }
  if (auth === 'approle' && !def.secrets.secret_id) {
    throw new UsageError(
      `vault store "${def.name}" uses AppRole and needs its secret_id (--secret-stdin)`,
    );
  }
  const kv = s.kv_version === undefined ? undefined : Number(s.kv_version);
  if (kv !== undefined && kv !== 1 && kv !== 2) {
    throw new UsageError(`vault kv version must be 1 or 2, not ${s.kv_version}`);
  }
  return {
    address: String(s.address),
    namespace: s.namespace ? String(s.namespace) : undefined,
    mount: String(s.mount ?? 'secret').replace(/^\/+|\/+$/g, ''),
    kvVersion: kv,
    auth,
    roleId: s.role_id ? String(s.role_id) : undefined,
    caFile: s.ca_file ? String(s.ca_file) : undefined,
  };
}

/**
 * HashiCorp Vault over its HTTP API: token or AppRole login, renewal of the token once two
 * thirds of its lease have passed, a fresh AppRole login when renewal is refused, and
 * reads from KV version 1 or 2 mounts.
 */
export class VaultStore implements CredentialStore {
  readonly type = 'vault' as const;
  readonly name: string;
  private readonly settings: VaultSettings;
  private readonly http: StoreHttp;
  private login?: VaultLogin;

  constructor(
    private readonly def: StoreDefinition,
    private readonly deps: StoreDeps,
    private readonly now: () => number = Date.now,
  ) {
    this.name = def.name;
    this.settings = vaultSettings(def);
    const ca = this.settings.caFile ? readCa(this.settings.caFile, def.name) : undefined;
    this.http = new StoreHttp(def.name, { ca }, deps);
  }

  async getCredential(ref: string): Promise<Credential> {
    return toCredential(this.name, ref, await this.readSecret(ref));
  }

  async check(): Promise<void> {
    await this.currentToken();
    const res = await this.call('GET', '/v1/auth/token/lookup-self');
    if (res.status !== 200) throw this.vaultError(res, 'token lookup', 'auth/token/lookup-self');
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /** Fields of the secret at `ref` under the configured mount. */
  async readSecret(ref: string): Promise<SecretFields> {
    const path = ref.replace(/^\/+/, '');
    const kv = await this.kvVersion();
    const apiPath =
      kv === 2 ? `/v1/${this.settings.mount}/data/${path}` : `/v1/${this.settings.mount}/${path}`;
    const res = await this.authorizedGet(apiPath, ref);
    return this.secretData(res, ref, kv);
  }

  // The mount's KV version, as Vault's UI endpoint reports it (readable by any token);
  // when it cannot be asked, version 2, the default of `vault secrets enable kv-v2`.
  private async kvVersion(): Promise<1 | 2> {
    if (this.settings.kvVersion) return this.settings.kvVersion;
    await this.currentToken();
    const res = await this.call('GET', `/v1/sys/internal/ui/mounts/${this.settings.mount}`);
    const version = (res.body as { data?: { options?: { version?: string } | null } } | undefined)
      ?.data?.options?.version;
    this.settings.kvVersion = res.status === 200 && version === '1' ? 1 : 2;
    this.deps.logger.debug({ store: this.name, kv: this.settings.kvVersion }, 'vault kv version');
    return this.settings.kvVersion;
  }

  private secretData(res: StoreResponse, ref: string, kv: 1 | 2): SecretFields {
    const body = res.body as { data?: { data?: SecretFields | null } & SecretFields };
    const fields = kv === 2 ? body?.data?.data : body?.data;
    if (!fields || typeof fields !== 'object') {
      throw new OperationalError(
        `vault store "${this.name}": secret "${ref}" has no data (deleted or destroyed ` +
          `version in a KV v2 mount, or a KV v1 mount read as v2); check --kv-version`,
        'credstore-secret-not-found',
      );
    }
    return fields;
  }

  // A 403 may mean the token expired early (revoked, lease cut): one fresh login, then
  // the request again, before calling it a policy denial.
  private async authorizedGet(apiPath: string, ref: string): Promise<StoreResponse> {
    await this.currentToken();
    let res = await this.call('GET', apiPath);
    if (res.status === 403 && this.settings.auth === 'approle') {
      this.login = undefined;
      await this.currentToken();
      res = await this.call('GET', apiPath);
    }
    if (res.status !== 200) throw this.vaultError(res, `reading secret "${ref}"`, apiPath);
    return res;
  }

  private async currentToken(): Promise<string> {
    if (!this.login) this.login = await this.logIn();
    if (this.login.renewAt !== undefined && this.now() >= this.login.renewAt) {
      this.login = await this.renewOrLogIn(this.login);
    }
    return this.login.token;
  }

  private async logIn(): Promise<VaultLogin> {
    if (this.settings.auth === 'token') {
      return this.tokenLogin();
    }
    const res = await this.call('POST', '/v1/auth/approle/login', {
      role_id: this.settings.roleId,
      secret_id: this.def.secrets.secret_id,
    });
    if (res.status !== 200) throw this.vaultError(res, 'AppRole login', 'auth/approle/login');
    this.deps.logger.info({ store: this.name }, 'vault approle login');
    return this.fromAuth(res);
  }

  // A static token: ask Vault its remaining TTL so renewal happens before it lapses.
  private async tokenLogin(): Promise<VaultLogin> {
    const token = this.def.secrets.token;
    const res = await this.call('GET', '/v1/auth/token/lookup-self', undefined, token);
    if (res.status !== 200) throw this.vaultError(res, 'token lookup', 'auth/token/lookup-self');
    const data = (res.body as { data?: { ttl?: number; renewable?: boolean } }).data ?? {};
    return this.loginFrom(token, Number(data.ttl ?? 0), Boolean(data.renewable));
  }

  private async renewOrLogIn(login: VaultLogin): Promise<VaultLogin> {
    if (login.renewable) {
      const res = await this.call('POST', '/v1/auth/token/renew-self', {});
      if (res.status === 200) {
        this.deps.logger.info({ store: this.name }, 'vault token renewed');
        return this.fromAuth(res);
      }
      this.deps.logger.warn(
        { store: this.name, status: res.status },
        'vault refused token renewal; logging in again',
      );
    }
    if (this.settings.auth === 'approle') return this.logIn();
    throw new OperationalError(
      `vault store "${this.name}": the token expired and cannot be renewed; set a new one ` +
        `with \`certagent-config credstore add ${this.name} ` +
        `--type vault --address URL --secret-stdin\` ` +
        'or switch to AppRole',
      'credstore-token-expired',
    );
  }

  private fromAuth(res: StoreResponse): VaultLogin {
    const auth = (
      res.body as { auth?: { client_token?: string; lease_duration?: number; renewable?: boolean } }
    ).auth;
    if (!auth?.client_token) {
      throw new OperationalError(
        `vault store "${this.name}" answered a login without auth.client_token; is ` +
          `${this.settings.address} a Vault server?`,
        'credstore-protocol',
      );
    }
    return this.loginFrom(
      auth.client_token,
      Number(auth.lease_duration ?? 0),
      Boolean(auth.renewable),
    );
  }

  private loginFrom(token: string, ttlSeconds: number, renewable: boolean): VaultLogin {
    // ttl 0 is a root-like token that never expires: nothing to renew.
    const renewAt = ttlSeconds > 0 ? this.now() + (ttlSeconds * 1000 * 2) / 3 : undefined;
    return { token, renewAt, renewable };
  }

  private call(method: 'GET' | 'POST', apiPath: string, body?: unknown, token?: string) {
    const headers: Record<string, string> = { accept: 'application/json' };
    const useToken = token ?? this.login?.token;
    if (useToken && apiPath !== '/v1/auth/approle/login') headers['x-vault-token'] = useToken;
    if (this.settings.namespace) headers['x-vault-namespace'] = this.settings.namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const url = new URL(apiPath, this.settings.address);
    return this.http.send({
      method,
      url,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  private vaultError(res: StoreResponse, what: string, apiPath: string): OperationalError {
    const errors = (res.body as { errors?: string[] } | undefined)?.errors ?? [];
    const text = errors.length > 0 ? errors.join('; ') : bodySummary(res.body);
    const at = `${this.settings.address}${apiPath.startsWith('/') ? '' : '/v1/'}${apiPath}`;
    const hint = VAULT_HINTS[res.status] ?? 'check the Vault server logs';
    return new OperationalError(
      `vault store "${this.name}": ${what} failed at ${at} (HTTP ${res.status}: ${text}); ${hint}`,
      res.status === 404 ? 'credstore-secret-not-found' : 'credstore-denied',
    );
  }
}

const VAULT_HINTS: Record<number, string> = {
  400: 'check the role_id / secret_id and the request settings',
  403:
    "the token's policies do not allow this path, or the token expired: check the policy " +
    'attached to the token or role, and the namespace',
  404: 'check the secret path, the mount (--mount) and the KV version (--kv-version)',
  503: 'Vault is sealed or in standby; unseal it or point --address at the active node',
};

function readCa(file: string, store: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new OperationalError(
      `vault store "${store}": cannot read CA file ${file}: ${(err as Error).message}`,
      'credstore-ca-unreadable',
      { cause: err },
    );
  }
}
