import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake Delinea Secret Server: /oauth2/token (password and refresh_token grants),
 * GET /api/v1/secrets/{id} and GET /api/v1/secrets/0?secretPath=\Folder\Name, with its
 * OAuth error bodies (`{"error": "invalid_grant"}`) and API error bodies
 * (`{"errorCode", "message"}`).
 */
export interface FakeSecret {
  id: number;
  name: string;
  folderPath: string;
  items: Array<{
    slug: string;
    fieldName: string;
    itemValue: string;
    isPassword?: boolean;
    isFile?: boolean;
    /** For file fields: the attached file, served only by the field endpoint. */
    fileContent?: string;
  }>;
}

export interface FakeDelineaOptions {
  username: string;
  password: string;
  secrets: FakeSecret[];
  /** Secret ids the user may not view. */
  denied?: number[];
  expiresIn?: number;
}

export interface FakeDelinea {
  url: string;
  grants: string[];
  requests: string[];
  /** Makes every access token issued so far invalid (as if it expired early). */
  expireTokens(): void;
  /** Makes refresh tokens invalid too, forcing a new password grant. */
  revokeRefreshTokens(): void;
  close(): Promise<void>;
}

export async function startFakeDelinea(options: FakeDelineaOptions): Promise<FakeDelinea> {
  const access = new Set<string>();
  const refresh = new Set<string>();
  const grants: string[] = [];
  const requests: string[] = [];

  const issue = () => {
    const a = crypto.randomBytes(16).toString('hex');
    const r = crypto.randomBytes(16).toString('hex');
    access.add(a);
    refresh.add(r);
    return {
      access_token: a,
      token_type: 'bearer',
      expires_in: options.expiresIn ?? 1200,
      refresh_token: r,
    };
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      // Secret Server is usually installed under /SecretServer; the API hangs below it.
      const url = new URL((req.url ?? '/').replace(/^\/SecretServer/i, ''), 'http://ss');
      requests.push(`${req.method} ${url.pathname}${url.search}`);

      if (req.method === 'POST' && url.pathname === '/oauth2/token') {
        const form = new URLSearchParams(body);
        grants.push(form.get('grant_type') ?? '');
        if (form.get('grant_type') === 'password') {
          if (
            form.get('username') === options.username &&
            form.get('password') === options.password
          ) {
            return send(200, issue());
          }
          return send(400, { error: 'invalid_grant' });
        }
        if (
          form.get('grant_type') === 'refresh_token' &&
          refresh.delete(form.get('refresh_token') ?? '')
        ) {
          return send(200, issue());
        }
        return send(400, { error: 'invalid_grant' });
      }

      const bearer = String(req.headers.authorization ?? '').replace(/^Bearer /i, '');
      if (!access.has(bearer)) {
        return send(401, {
          errorCode: 'API_AuthenticationFailed',
          message: 'Authentication failed or expired token',
        });
      }
      const field = /^\/api\/v1\/secrets\/(\d+)\/fields\/([a-z-]+)$/.exec(url.pathname);
      if (req.method === 'GET' && field) {
        const owner = options.secrets.find((s) => s.id === Number(field[1]));
        const item = owner?.items.find((i) => i.slug === field[2]);
        if (!owner || !item || options.denied?.includes(owner.id)) {
          return send(400, { errorCode: 'API_AccessDenied', message: 'Access Denied' });
        }
        // Field values come back raw (a file's content for file fields).
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(item.fileContent ?? item.itemValue);
      }
      const match = /^\/api\/v1\/secrets\/(\d+)$/.exec(url.pathname);
      if (req.method !== 'GET' || !match)
        return send(404, { message: 'No HTTP resource was found' });

      const secret =
        match[1] === '0'
          ? options.secrets.find(
              (s) => `${s.folderPath}\\${s.name}` === url.searchParams.get('secretPath'),
            )
          : options.secrets.find((s) => s.id === Number(match[1]));
      // Secret Server does not tell missing secrets from forbidden ones.
      if (!secret || options.denied?.includes(secret.id)) {
        return send(400, { errorCode: 'API_AccessDenied', message: 'Access Denied' });
      }
      const items = secret.items.map(({ fileContent, ...item }) =>
        fileContent === undefined ? item : { ...item, itemValue: '', fileAttachmentId: 42 },
      );
      send(200, { id: secret.id, name: secret.name, folderId: 7, items });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/SecretServer`,
    grants,
    requests,
    expireTokens: () => access.clear(),
    revokeRefreshTokens: () => refresh.clear(),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
