import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A fake of HashiCorp Vault's HTTP API, as far as the agent uses it: token lookup and
 * renewal, AppRole login, KV v1 and v2 reads, namespaces, and Vault's error bodies
 * (`{"errors": [...]}` with 400/403/404).
 */
export interface FakeVaultOptions {
  tls?: { key: string; cert: string };
  /** A namespace every request must name in X-Vault-Namespace (Vault Enterprise). */
  namespace?: string;
  roleId?: string;
  secretId?: string;
  /** Lease of tokens issued by AppRole login, seconds. */
  leaseSeconds?: number;
}

interface FakeToken {
  ttl: number;
  renewable: boolean;
  expired: boolean;
  /** Path prefixes its policy allows reading. */
  allowed: string[];
}

export interface FakeVault {
  url: string;
  /** Every request: method, path, and whether it carried a token (never the token). */
  requests: Array<{ method: string; path: string; namespace?: string }>;
  tokens: Map<string, FakeToken>;
  /** mount -> { version, secrets: path -> data } */
  mounts: Map<string, { version: 1 | 2; secrets: Map<string, Record<string, unknown> | null> }>;
  refuseRenewal: boolean;
  addToken(token: string, opts?: Partial<FakeToken>): void;
  close(): Promise<void>;
}

const DENIED = { errors: ['1 error occurred:\n\t* permission denied\n\n'] };

export async function startFakeVault(options: FakeVaultOptions = {}): Promise<FakeVault> {
  const state: FakeVault = {
    url: '',
    requests: [],
    tokens: new Map(),
    mounts: new Map(),
    refuseRenewal: false,
    addToken(token, opts = {}) {
      state.tokens.set(token, {
        ttl: 3600,
        renewable: true,
        expired: false,
        allowed: [''],
        ...opts,
      });
    },
    close: async () => {},
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => route(state, options, req, body, res));
  };
  const server = options.tls
    ? https.createServer(options.tls, handler)
    : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  state.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}

function route(
  state: FakeVault,
  options: FakeVaultOptions,
  req: http.IncomingMessage,
  body: string,
  res: http.ServerResponse,
): void {
  const url = new URL(req.url ?? '/', 'http://vault');
  const namespace = req.headers['x-vault-namespace'] as string | undefined;
  state.requests.push({ method: req.method ?? '', path: url.pathname, namespace });
  const send = (status: number, payload?: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(payload === undefined ? '' : JSON.stringify(payload));
  };

  // Outside its namespace, nothing the agent asks for exists.
  if (options.namespace && namespace !== options.namespace) return send(403, DENIED);

  if (req.method === 'POST' && url.pathname === '/v1/auth/approle/login') {
    return approleLogin(state, options, body, send);
  }

  const token = state.tokens.get(String(req.headers['x-vault-token'] ?? ''));
  if (!token || token.expired) return send(403, DENIED);

  if (req.method === 'GET' && url.pathname === '/v1/auth/token/lookup-self') {
    return send(200, {
      data: { ttl: token.ttl, renewable: token.renewable, policies: ['default'] },
    });
  }
  if (req.method === 'POST' && url.pathname === '/v1/auth/token/renew-self') {
    if (state.refuseRenewal || !token.renewable) return send(403, DENIED);
    return send(200, {
      auth: {
        client_token: String(req.headers['x-vault-token']),
        lease_duration: token.ttl,
        renewable: true,
      },
    });
  }
  const ui = /^\/v1\/sys\/internal\/ui\/mounts\/([^/]+)/.exec(url.pathname);
  if (req.method === 'GET' && ui) {
    const mount = state.mounts.get(ui[1]!);
    if (!mount) return send(403, DENIED);
    return send(200, {
      data: { path: `${ui[1]}/`, type: 'kv', options: { version: String(mount.version) } },
    });
  }
  if (req.method === 'GET') return readSecret(state, token, url.pathname, send);
  send(405, { errors: [] });
}

function approleLogin(
  state: FakeVault,
  options: FakeVaultOptions,
  body: string,
  send: (s: number, p?: unknown) => void,
): void {
  const creds = JSON.parse(body || '{}') as { role_id?: string; secret_id?: string };
  if (!creds.role_id || creds.role_id !== options.roleId) {
    return send(400, { errors: ['invalid role ID'] });
  }
  if (creds.secret_id !== options.secretId) return send(400, { errors: ['invalid secret id'] });

  const token = `hvs.${crypto.randomBytes(12).toString('base64url')}`;
  const ttl = options.leaseSeconds ?? 3600;
  state.addToken(token, { ttl });
  send(200, {
    auth: {
      client_token: token,
      accessor: 'fake',
      policies: ['default'],
      lease_duration: ttl,
      renewable: true,
    },
  });
}

function readSecret(
  state: FakeVault,
  token: FakeToken,
  pathname: string,
  send: (s: number, p?: unknown) => void,
): void {
  const rest = pathname.replace(/^\/v1\//, '');
  const [mountName, ...parts] = rest.split('/');
  const mount = state.mounts.get(mountName ?? '');
  if (!mount) return send(403, DENIED);
  if (!token.allowed.some((prefix) => rest.startsWith(prefix))) return send(403, DENIED);

  if (mount.version === 2) {
    if (parts[0] !== 'data') return send(404, { errors: [] });
    const data = mount.secrets.get(parts.slice(1).join('/'));
    if (data === undefined) return send(404, { errors: [] });
    return send(200, {
      data: { data, metadata: { version: 1, deletion_time: data ? '' : 'x', destroyed: false } },
    });
  }
  const data = mount.secrets.get(parts.join('/'));
  if (!data) return send(404, { errors: [] });
  send(200, { request_id: 'fake', lease_duration: 2764800, renewable: false, data });
}
