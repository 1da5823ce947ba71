import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { makeCert } from '../../support/certs.ts';

/**
 * A fake BIG-IP management interface: the iControl REST paths the installer uses, with
 * the status codes and `{code, message, errorStack, apiError}` bodies the real one sends.
 * It keeps keys and certificates as PEM and refuses a profile whose key and certificate
 * do not match, as mcpd does.
 */
export interface FakeF5 {
  port: number;
  caPem: string;
  url: string;
  state: F5State;
  /** Every request's method, path and headers (to check no password leaks past login). */
  log: Array<{ method: string; path: string; headers: Record<string, unknown>; body: string }>;
  close(): Promise<void>;
}

interface CertKeyChain {
  name: string;
  cert?: string;
  key?: string;
  chain?: string;
}

export interface F5State {
  users: Record<string, string>;
  tokens: Set<string>;
  uploads: Map<string, Buffer>;
  keys: Map<string, string>;
  certs: Map<string, string>;
  profiles: Map<string, { certKeyChain: CertKeyChain[] }>;
  virtuals: Array<{ name: string; destination: string; profile: string }>;
  /** Set to make the next profile PATCH fail like a validation error would. */
  failNextPatch?: boolean;
}

const DOWNLOADS = '/var/config/rest/downloads';

function errorBody(code: number, message: string, apiError = 3) {
  return { code, message, errorStack: [], apiError };
}

/**
 * A fake BIG-IP already serving a self-signed lb.test certificate: key and certificate
 * /Common/lb.key and /Common/lb.crt on client-SSL profile /Common/lb-ssl of virtual vs_lb,
 * the state the manager's node jobs start from. `admin` logs in with `password`.
 */
export async function startFakeF5WithSite(dir: string, password: string): Promise<FakeF5> {
  const old = await makeCert(dir, { cn: 'lb.test' });
  return startFakeF5(dir, {
    users: { admin: password },
    certs: new Map([['/Common/lb.crt', fs.readFileSync(old.certPath, 'utf8')]]),
    keys: new Map([['/Common/lb.key', fs.readFileSync(old.keyPath, 'utf8')]]),
    profiles: new Map([
      [
        '/Common/lb-ssl',
        { certKeyChain: [{ name: 'default', cert: '/Common/lb.crt', key: '/Common/lb.key' }] },
      ],
    ]),
    virtuals: [{ name: 'vs_lb', destination: '/Common/10.0.0.20:443', profile: '/Common/lb-ssl' }],
  });
}

/**
 * `certagent-manager nodes add` arguments for lb1, reached over REST with local-store's
 * `bigip`.
 */
export function f5NodeAddArgs(f5: FakeF5, agent: string, caFile: string): string[] {
  return [
    'nodes',
    'add',
    '--agent',
    agent,
    '--name',
    'lb1',
    '--connection',
    'rest',
    '--host',
    '127.0.0.1',
    '--port',
    String(f5.port),
    '--credstore',
    'local-store',
    '--secret',
    'bigip',
    '--ca-file',
    caFile,
  ];
}

export async function startFakeF5(dir: string, initial: Partial<F5State> = {}): Promise<FakeF5> {
  const mgmt = await makeCert(dir, {
    cn: 'localhost',
    sans: ['IP:127.0.0.1'],
    notAfter: new Date(Date.now() + 2 * 86_400_000),
  });
  const [key, cert] = [mgmt.keyPath, mgmt.certPath];
  const state: F5State = {
    users: {},
    tokens: new Set(),
    uploads: new Map(),
    keys: new Map(),
    certs: new Map(),
    profiles: new Map(),
    virtuals: [],
    ...initial,
  };
  const log: FakeF5['log'] = [];
  const server = https.createServer(
    { key: fs.readFileSync(key), cert: fs.readFileSync(cert) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        log.push({
          method: req.method!,
          path: req.url!,
          headers: req.headers,
          body: body.toString(),
        });
        const [status, payload] = route(state, req.method!, req.url!, req.headers, body);
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify(payload));
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    caPem: fs.readFileSync(cert, 'utf8'),
    state,
    log,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

type Reply = [number, unknown];

function route(
  state: F5State,
  method: string,
  url: string,
  headers: Record<string, unknown>,
  body: Buffer,
): Reply {
  const path = url.split('?')[0]!;
  if (method === 'POST' && path === '/mgmt/shared/authn/login') return login(state, body);
  const token = headers['x-f5-auth-token'];
  if (typeof token !== 'string' || !state.tokens.has(token)) {
    return [
      401,
      { ...errorBody(401, 'X-F5-Auth-Token does not exist.'), kind: ':resterrorresponse' },
    ];
  }
  if (method === 'DELETE' && path.startsWith('/mgmt/shared/authz/tokens/')) {
    state.tokens.delete(path.split('/').pop()!);
    return [200, {}];
  }
  if (method === 'POST' && path.startsWith('/mgmt/shared/file-transfer/uploads/')) {
    return upload(state, decodeURIComponent(path.split('/').pop()!), headers, body);
  }
  if (path === '/mgmt/tm/sys/crypto/key' && method === 'POST') return install(state, 'key', body);
  if (path === '/mgmt/tm/sys/crypto/cert' && method === 'POST') return install(state, 'cert', body);
  if (path === '/mgmt/tm/sys/crypto/cert' && method === 'GET') {
    return [
      200,
      {
        kind: 'tm:sys:crypto:cert:certcollectionstate',
        items: [...state.certs.keys()].map((n) => certObject(state, n)),
      },
    ];
  }
  if (path.startsWith('/mgmt/tm/sys/crypto/cert/') && method === 'GET') {
    const name = path.split('/').pop()!.replace(/~/g, '/');
    if (!state.certs.has(name))
      return [
        404,
        errorBody(404, `01020036:3: The requested Certificate File (${name}) was not found.`),
      ];
    return [200, certObject(state, name)];
  }
  if (path === '/mgmt/tm/ltm/profile/client-ssl' && method === 'GET') {
    return [200, { items: [...state.profiles.entries()].map(([p, v]) => profileObject(p, v)) }];
  }
  if (path.startsWith('/mgmt/tm/ltm/profile/client-ssl/')) {
    return profile(state, method, path.split('/').pop()!.replace(/~/g, '/'), body);
  }
  if (path === '/mgmt/tm/ltm/virtual' && method === 'GET') {
    return [
      200,
      {
        items: state.virtuals.map((v) => ({
          name: v.name,
          fullPath: `/Common/${v.name}`,
          destination: v.destination,
          profilesReference: {
            items: [
              { name: v.profile.split('/').pop(), fullPath: v.profile, context: 'clientside' },
            ],
          },
        })),
      },
    ];
  }
  return [404, errorBody(404, `Public URI path not registered: ${path}`, 1)];
}

function login(state: F5State, body: Buffer): Reply {
  let creds: { username?: string; password?: string; loginProviderName?: string };
  try {
    creds = JSON.parse(body.toString());
  } catch {
    return [400, errorBody(400, 'Found invalid JSON body in the request.')];
  }
  if (!creds.username || state.users[creds.username] !== creds.password) {
    return [
      401,
      {
        code: 401,
        message: 'Authentication failed.',
        referer: '127.0.0.1',
        restOperationId: 1,
        kind: ':resterrorresponse',
      },
    ];
  }
  const token = crypto.randomBytes(16).toString('hex').toUpperCase();
  state.tokens.add(token);
  return [
    200,
    {
      username: creds.username,
      loginProviderName: creds.loginProviderName ?? 'tmos',
      token: { token, name: token, userName: creds.username, timeout: 1200 },
    },
  ];
}

// The real worker needs Content-Range on every chunk and refuses chunks over 1 MiB.
function upload(
  state: F5State,
  name: string,
  headers: Record<string, unknown>,
  body: Buffer,
): Reply {
  const range = /^(\d+)-(\d+)\/(\d+)$/.exec(String(headers['content-range'] ?? ''));
  if (!range) return [400, errorBody(400, 'Content-Range header is missing or invalid')];
  const [start, end, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
  if (end - start + 1 !== body.length || body.length > 1024 * 1024) {
    return [
      400,
      errorBody(400, `Chunk size ${body.length} does not match Content-Range ${start}-${end}`),
    ];
  }
  const previous = start === 0 ? Buffer.alloc(0) : (state.uploads.get(name) ?? Buffer.alloc(0));
  state.uploads.set(name, Buffer.concat([previous, body]));
  return [
    200,
    {
      remainingByteCount: total - end - 1,
      usedChunks: { [start]: body.length },
      totalByteCount: total,
      localFilePath: `${DOWNLOADS}/${name}`,
      temporaryFilePath: `${DOWNLOADS}/tmp.${name}`,
      generation: 0,
      lastUpdateMicros: Date.now() * 1000,
    },
  ];
}

function install(state: F5State, kind: 'key' | 'cert', body: Buffer): Reply {
  const req = JSON.parse(body.toString()) as {
    command?: string;
    name?: string;
    'from-local-file'?: string;
  };
  if (req.command !== 'install' || !req.name || !req['from-local-file']) {
    return [
      400,
      errorBody(400, `"command" install with "name" and "from-local-file" is required`, 26214401),
    ];
  }
  const file = req['from-local-file'];
  const data = file.startsWith(`${DOWNLOADS}/`)
    ? state.uploads.get(file.slice(DOWNLOADS.length + 1))
    : undefined;
  if (!data)
    return [
      400,
      errorBody(
        400,
        `010715bd:3: The source (${file}) of the ${kind} (${req.name}) could not be found.`,
        26214401,
      ),
    ];
  const pem = data.toString();
  try {
    if (kind === 'key') crypto.createPrivateKey(pem);
    else new X509Certificate(pem);
  } catch {
    return [
      400,
      errorBody(
        400,
        `01070712:3: Values (/Common/${req.name}) specified for ${kind} is not a valid PEM.`,
        26214401,
      ),
    ];
  }
  (kind === 'key' ? state.keys : state.certs).set(`/Common/${req.name}`, pem);
  return [
    200,
    {
      kind: `tm:sys:crypto:${kind}:${kind}state`,
      command: 'install',
      name: req.name,
      'from-local-file': file,
    },
  ];
}

function certObject(state: F5State, fullPath: string) {
  const x = new X509Certificate(state.certs.get(fullPath)!);
  return {
    kind: 'tm:sys:crypto:cert:certstate',
    name: fullPath.split('/').pop(),
    fullPath,
    fingerprint: `SHA256/${x.fingerprint256}`,
    expirationString: x.validTo,
    subject: x.subject,
  };
}

function profileObject(fullPath: string, p: { certKeyChain: CertKeyChain[] }) {
  return {
    kind: 'tm:ltm:profile:client-ssl:client-sslstate',
    name: fullPath.split('/').pop(),
    partition: 'Common',
    fullPath,
    certKeyChain: p.certKeyChain,
  };
}

function profile(state: F5State, method: string, fullPath: string, body: Buffer): Reply {
  const current = state.profiles.get(fullPath);
  if (!current)
    return [
      404,
      errorBody(404, `01020036:3: The requested ClientSSL Profile (${fullPath}) was not found.`),
    ];
  if (method === 'GET') return [200, profileObject(fullPath, current)];
  if (method !== 'PATCH') return [405, errorBody(405, 'Method not allowed', 1)];
  const patch = JSON.parse(body.toString()) as { certKeyChain?: CertKeyChain[] };
  for (const c of patch.certKeyChain ?? []) {
    if (!c.cert || !state.certs.has(c.cert))
      return [
        400,
        errorBody(
          400,
          `010717e3:3: Client SSL profile must have RSA certificate/key pair. (${c.cert} not ` +
            `found)`,
        ),
      ];
    if (!c.key || !state.keys.has(c.key))
      return [
        400,
        errorBody(400, `01020036:3: The requested Certificate Key File (${c.key}) was not found.`),
      ];
    const certKey = new X509Certificate(state.certs.get(c.cert)!).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    const keyPub = crypto
      .createPublicKey(state.keys.get(c.key)!)
      .export({ format: 'pem', type: 'spki' });
    if (certKey !== keyPub)
      return [
        400,
        errorBody(
          400,
          `01070313:3: Error reading key PEM file ${c.key} for profile ${fullPath}: key and ` +
            `certificate do not match`,
        ),
      ];
  }
  if (state.failNextPatch) {
    state.failNextPatch = false;
    return [
      400,
      errorBody(
        400,
        `01071ac9:3: Profile ${fullPath} is in use by a virtual server whose configuration is ` +
          `locked.`,
      ),
    ];
  }
  if (patch.certKeyChain) current.certKeyChain = patch.certKeyChain;
  return [200, profileObject(fullPath, current)];
}
