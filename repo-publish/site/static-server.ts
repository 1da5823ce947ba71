import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.asc': 'text/plain; charset=utf-8',
  '.gpg': 'application/pgp-keys',
  '.xml': 'application/xml',
  '.repo': 'text/plain; charset=utf-8',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves a published site read-only over HTTP, like any static web server would: GET and
 * HEAD, symlinks followed but never out of the root, no directory listings.
 */
export async function serveStatic(
  root: string,
  host = '127.0.0.1',
  port = 0,
): Promise<StaticServer> {
  const realRoot = fs.realpathSync(root);
  const server = http.createServer((req, res) => handle(realRoot, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function handle(root: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }

  const file = resolveInside(root, req.url ?? '/');
  if (!file) {
    res.writeHead(404).end('not found\n');
    return;
  }

  const size = fs.statSync(file).size;
  const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
  res.writeHead(200, { 'content-type': type, 'content-length': size });
  if (req.method === 'HEAD') res.end();
  else fs.createReadStream(file).pipe(res);
}

/** The regular file a URL names, or null when it is missing or escapes the root. */
function resolveInside(root: string, url: string): string | null {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, 'http://x').pathname);
  } catch {
    return null;
  }
  // Publish's own bookkeeping (.generations, the lock) is reached through links only.
  if (pathname.split('/').some((segment) => segment.startsWith('.'))) return null;

  try {
    const real = fs.realpathSync(path.join(root, pathname));
    const inside = real === root || real.startsWith(`${root}${path.sep}`);
    return inside && fs.statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}
