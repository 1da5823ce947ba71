import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as openpgp from 'openpgp';

/** How the fake distribution host answers one path. */
export type Route =
  | Buffer
  | string
  | ((req: http.IncomingMessage, res: http.ServerResponse) => void);

/**
 * A loopback distribution host for the bootstrap and updater tests: serves byte buffers
 * with Range support, or a custom handler for hostile behaviour (trickling, lying about
 * sizes). Records every request so tests can check what was asked and through where.
 */
export class DistHost {
  readonly requests: Array<{ path: string; headers: http.IncomingHttpHeaders }> = [];
  private readonly routes = new Map<string, Route>();
  private server?: http.Server;
  private sockets = new Set<import('node:net').Socket>();

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get origin(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  url(path: string): string {
    return `${this.origin}/${path.replace(/^\//, '')}`;
  }

  set(path: string, route: Route): void {
    this.routes.set(`/${path.replace(/^\//, '')}`, route);
  }

  clear(): void {
    this.routes.clear();
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    this.requests.push({ path, headers: req.headers });
    const route = this.routes.get(path);
    if (route === undefined) {
      res.writeHead(404).end('not found');
    } else if (typeof route === 'function') {
      route(req, res);
    } else {
      serveBytes(req, res, Buffer.from(route));
    }
  }
}

function serveBytes(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  if (range && start < body.length) {
    res.writeHead(206, {
      'content-length': body.length - start,
      'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
    });
    res.end(body.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': body.length });
  res.end(body);
}

/** Sends `body` a few bytes at a time, forever slower than any sane deadline. */
export function trickle(body: Buffer, bytesPerTick = 1, tickMs = 200): Route {
  return (_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    let sent = 0;
    const timer = setInterval(() => {
      if (sent >= body.length || res.destroyed) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write(body.subarray(sent, sent + bytesPerTick));
      sent += bytesPerTick;
    }, tickMs);
    res.on('close', () => clearInterval(timer));
  };
}

/** Streams `total` bytes with no content-length, for huge-document tests. */
export function endless(total: number): Route {
  return (_req, res) => {
    res.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 0x7b);
    let sent = 0;
    const pump = (): void => {
      while (sent < total && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  };
}

export interface ReleaseKey {
  publicKeyArmored: string;
  privateKey: openpgp.PrivateKey;
}

/** A throwaway signing key, generated per test run so no test depends on a real key. */
export async function createReleaseKey(name = 'certagent test release'): Promise<ReleaseKey> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name, email: 'release@certagent.invalid' }],
    format: 'armored',
  });
  return {
    publicKeyArmored: publicKey,
    privateKey: await openpgp.readPrivateKey({ armoredKey: privateKey }),
  };
}

/** Detached armoured signature over `data`, as the publish step writes `X.asc`. */
export async function signDetached(key: ReleaseKey, data: Buffer | string): Promise<string> {
  const message = await openpgp.createMessage({ binary: Buffer.from(data) });
  return openpgp.sign({ message, signingKeys: key.privateKey, detached: true, format: 'armored' });
}

/** Publishes a signed JSON document at `path` (and `path.asc`) on the host. */
export async function publishSigned(
  host: DistHost,
  key: ReleaseKey,
  path: string,
  document: unknown,
): Promise<Buffer> {
  const body = Buffer.from(`${JSON.stringify(document, null, 2)}\n`);
  host.set(path, body);
  host.set(`${path}.asc`, await signDetached(key, body));
  return body;
}
