import { Agent, request, type Dispatcher } from 'undici';
import { OperationalError } from '../cli/errors.ts';
import type { NodeCredentials } from '../connections/connection.ts';
import { directConnector } from '../proxy/direct-connector.ts';

/** How to reach a BIG-IP's management interface (REST, port 443 by default). */
export interface F5Target {
  host: string;
  port?: number;
  credentials: NodeCredentials;
  /** PEM of the CA (or the self-signed certificate) the management interface presents. */
  ca?: string;
  /** Management interfaces often keep their factory self-signed certificate. */
  insecure?: boolean;
}

/** The error body iControl REST returns: `{code, message, errorStack, apiError}`. */
interface F5ErrorBody {
  code?: number;
  message?: string;
}

/**
 * A minimal iControl REST client: token login (/mgmt/shared/authn/login), then every call
 * carries X-F5-Auth-Token. The password is sent once, in the login body, and never logged.
 */
export class F5Client {
  readonly label: string;
  private token: string | undefined;
  private readonly dispatcher: Dispatcher;
  private readonly base: string;

  constructor(private readonly target: F5Target) {
    const port = target.port ?? 443;
    this.base = `https://${target.host.includes(':') ? `[${target.host}]` : target.host}:${port}`;
    this.label = `f5://${target.host}:${port}`;
    this.dispatcher = new Agent({
      connect: directConnector({ ca: target.ca, rejectUnauthorized: !target.insecure }),
    });
  }

  async login(): Promise<void> {
    const { username, password } = this.target.credentials;
    if (!password) {
      throw new OperationalError(
        `the secret for ${this.label} has no password; iControl REST logins need one`,
        'f5-no-password',
      );
    }
    const body = await this.call<{ token?: { token?: string } }>(
      'POST',
      '/mgmt/shared/authn/login',
      {
        username,
        password,
        loginProviderName: 'tmos',
      },
    );
    this.token = body.token?.token;
    if (!this.token) {
      throw new OperationalError(`${this.label} answered the login without a token`, 'f5-login');
    }
  }

  /** Uploads a small file (<1 MiB: one Content-Range chunk); returns its path on the box. */
  async upload(name: string, content: string): Promise<string> {
    const data = Buffer.from(content);
    const body = await this.call<{ localFilePath?: string }>(
      'POST',
      `/mgmt/shared/file-transfer/uploads/${encodeURIComponent(name)}`,
      data,
      {
        'content-type': 'application/octet-stream',
        'content-range': `0-${data.length - 1}/${data.length}`,
      },
    );
    return body.localFilePath ?? `/var/config/rest/downloads/${name}`;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }

  async close(): Promise<void> {
    if (this.token) {
      await this.call('DELETE', `/mgmt/shared/authz/tokens/${this.token}`).catch(() => undefined);
      this.token = undefined;
    }
    await this.dispatcher.close();
  }

  private async call<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...extraHeaders };
    if (this.token) headers['x-f5-auth-token'] = this.token;
    const payload = body === undefined || Buffer.isBuffer(body) ? body : JSON.stringify(body);

    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${this.base}${path}`, {
        method,
        headers,
        body: payload as string | Buffer | undefined,
        dispatcher: this.dispatcher,
        headersTimeout: 30_000,
        bodyTimeout: 60_000,
      });
    } catch (err) {
      throw new OperationalError(
        `cannot reach ${this.label} (${method} ${path}): ${(err as Error).message}; ` +
          'check host, port and the management interface certificate (ca / insecure)',
        'f5-unreachable',
        { cause: err },
      );
    }
    const text = await res.body.text();
    if (res.statusCode >= 400) throw this.apiError(method, path, res.statusCode, text);
    return (text ? JSON.parse(text) : {}) as T;
  }

  private apiError(method: string, path: string, status: number, text: string): OperationalError {
    let parsed: F5ErrorBody = {};
    try {
      parsed = JSON.parse(text) as F5ErrorBody;
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
    const hint =
      status === 401
        ? 'check the username and password in the credential store'
        : 'check the object names and the BIG-IP log';
    const path0 = path.startsWith('/mgmt/shared/authn/login') ? path : path.split('?')[0];
    return new OperationalError(
      `${this.label} refused ${method} ${path0}: HTTP ${status} ${parsed.message ?? ''}; ${hint}`,
      status === 401 ? 'f5-auth-failed' : 'f5-api-error',
    );
  }
}
