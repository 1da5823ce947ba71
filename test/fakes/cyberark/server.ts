import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * A fake CyberArk Central Credential Provider: GET /AIMWebService/api/Accounts with AppID
 * and Safe/Folder/Object or Query, answering with the account (password in `Content`) or
 * CCP's `{ErrorCode, ErrorMsg}` bodies.
 */
export interface FakeAccount {
  Safe: string;
  Folder: string;
  Name: string;
  UserName: string;
  Content: string;
  Address?: string;
}

export interface FakeCyberArkOptions {
  tls: { key: string; cert: string; ca: string };
  appId: string;
  /** When set, the AppID only accepts a client certificate with this subject CN. */
  clientCertCn?: string;
  accounts: FakeAccount[];
}

export interface FakeCyberArk {
  url: string;
  requests: Array<{ query: Record<string, string>; clientCn?: string }>;
  close(): Promise<void>;
}

export async function startFakeCyberArk(options: FakeCyberArkOptions): Promise<FakeCyberArk> {
  const requests: FakeCyberArk['requests'] = [];
  const server = https.createServer(
    { ...options.tls, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(payload));
      };
      const url = new URL(req.url ?? '/', 'https://ccp');
      const query = Object.fromEntries(url.searchParams);
      const socket = req.socket as TLSSocket;
      const cn = socket.authorized
        ? String(socket.getPeerCertificate().subject?.CN ?? '')
        : undefined;
      requests.push({ query, clientCn: cn });
      if (url.pathname.toLowerCase() !== '/aimwebservice/api/accounts') {
        return send(404, { ErrorCode: 'AIMWS001E', ErrorMsg: 'Resource not found' });
      }
      answer(options, query, cn, send);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function answer(
  options: FakeCyberArkOptions,
  query: Record<string, string>,
  clientCn: string | undefined,
  send: (s: number, p: unknown) => void,
): void {
  if (!query.AppID) {
    return send(400, {
      ErrorCode: 'AIMWS030E',
      ErrorMsg: 'Invalid request. The AppID parameter is required.',
    });
  }
  if (query.AppID !== options.appId) {
    return send(403, {
      ErrorCode: 'APPAP306E',
      ErrorMsg:
        `Failed to verify application authentication data: Application ` +
        `[${query.AppID}] is not defined.`,
    });
  }
  if (options.clientCertCn && clientCn !== options.clientCertCn) {
    return send(403, {
      ErrorCode: 'APPAP282E',
      ErrorMsg:
        `Failed to verify application authentication data: client certificate of ` +
        `application [${query.AppID}] is missing or not trusted.`,
    });
  }
  const criteria = criteriaOf(query);
  const matches = options.accounts.filter((a) =>
    Object.entries(criteria).every(([k, v]) => fieldOf(a, k)?.toLowerCase() === v.toLowerCase()),
  );
  const described = Object.entries(criteria)
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
  if (matches.length === 0) {
    return send(404, {
      ErrorCode: 'APPAP004E',
      ErrorMsg: `Password object matching query [${described}] was not found (Diagnostic Info: 5).`,
    });
  }
  if (matches.length > 1) {
    return send(404, {
      ErrorCode: 'APPAP227E',
      ErrorMsg: `Too many password objects matching query [${described}] were found.`,
    });
  }
  const a = matches[0]!;
  send(200, {
    Content: a.Content,
    UserName: a.UserName,
    Address: a.Address ?? '',
    Safe: a.Safe,
    Folder: a.Folder,
    Name: a.Name,
    PolicyID: 'UnixSSH',
    PasswordChangeInProcess: 'False',
  });
}

function criteriaOf(query: Record<string, string>): Record<string, string> {
  const source = query.Query
    ? Object.fromEntries(
        query.Query.split(';')
          .filter(Boolean)
          .map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
      )
    : query;
  const out: Record<string, string> = {};
  for (const key of ['Safe', 'Folder', 'Object', 'UserName', 'Address']) {
    if (source[key]) out[key] = source[key];
  }
  return out;
}

function fieldOf(a: FakeAccount, key: string): string | undefined {
  if (key === 'Object') return a.Name;
  return (a as unknown as Record<string, string | undefined>)[key];
}
