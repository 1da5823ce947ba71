import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { ErrorBody } from '../../protocol/messages.ts';
import { API_PATHS, MAX_BODY_BYTES } from '../../protocol/version.ts';

const MAX_REGISTER_BYTES = 64 * 1024;
import type { CertificateAuthority, IssuedPair } from '../ca/certificate-authority.ts';
import type { Db } from '../store/database.ts';
import { HttpError } from './http-error.ts';
import { ROUTES } from './routes.ts';

export interface ServerOptions {
  db: Db;
  ca: CertificateAuthority;
  serverCert: IssuedPair;
  log: Logger;
}

/**
 * The manager's HTTPS endpoint. Client certificates are requested but not required at
 * the TLS layer, because registration happens before the agent has one; every route
 * except register checks the certificate itself (routes.ts).
 */
export function createManagerServer(options: ServerOptions): https.Server {
  const server = https.createServer(
    {
      cert: options.serverCert.certPem,
      key: options.serverCert.keyPem,
      ca: options.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (req, res) => void handle(options, req, res),
  );
  // A client that opens a connection and sends nothing is dropped, not kept forever.
  server.headersTimeout = 15_000;
  server.requestTimeout = 60_000;
  return server;
}

async function handle(
  options: ServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://manager.invalid');
  const route = ROUTES[`${req.method} ${url.pathname}`];
  try {
    if (!route) {
      throw new HttpError(404, 'not-found', `no such endpoint: ${req.method} ${url.pathname}`);
    }
    // Before a client certificate, only a small registration body is read, so anonymous
    // clients cannot make the manager buffer megabytes.
    const anonymous = url.pathname === API_PATHS.register;
    if (!anonymous && !(req.socket as TLSSocket).authorized) {
      throw new HttpError(
        401,
        'client-certificate-required',
        'a client certificate issued by this manager is required; register the agent first',
      );
    }
    const limit = anonymous ? MAX_REGISTER_BYTES : MAX_BODY_BYTES;
    const body = req.method === 'GET' ? undefined : await readJson(req, limit);
    const result = await route(
      { db: options.db, ca: options.ca, log: options.log, socket: req.socket as TLSSocket },
      body,
    );
    send(res, 200, result);
  } catch (err) {
    if (err instanceof HttpError)
      return send(res, err.status, { code: err.code, message: err.message } satisfies ErrorBody);
    options.log.error({ err, path: url.pathname }, 'request failed');
    send(res, 500, {
      code: 'internal',
      message: 'the manager failed to handle the request; see its log',
    } satisfies ErrorBody);
  }
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'too-large', `request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad-json', 'request body is not valid JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
