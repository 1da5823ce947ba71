import net from 'node:net';
import tls from 'node:tls';
import type { EndpointResult } from './endpoint.ts';
import { peerChain } from './peer-chain.ts';
import { classifyProbeError, failure, type ProbeFailure } from './probe-error.ts';

export interface ProbeTarget {
  host: string;
  address: string;
  port: number;
  sni: string | null;
}

export interface ProbeOptions {
  /** Covers connect and handshake together: a silent peer costs exactly this much. */
  timeoutMs: number;
  secureContext: tls.SecureContext;
  signal?: AbortSignal;
}

/**
 * A context that accepts what discovery must still record: TLS 1.0, SHA-1, RSA-1024 and
 * any cipher OpenSSL knows. It trusts no CA, so chains are reported exactly as sent.
 */
export function createDiscoveryContext(): tls.SecureContext {
  return tls.createSecureContext({
    minVersion: 'TLSv1',
    ciphers: 'ALL:!aNULL:!eNULL:@SECLEVEL=0',
    ca: [],
  });
}

/** One TLS handshake with one address and port; never rejects, failures are results. */
export function probeEndpoint(target: ProbeTarget, options: ProbeOptions): Promise<EndpointResult> {
  return new Promise((resolve) => {
    const where = formatEndpoint(target.address, target.port);
    // TCP first, TLS only once connected: an OpenSSL session costs native memory that V8
    // frees late, and most endpoints of a range sweep refuse or never answer.
    const tcp = net.connect({ host: target.address, port: target.port });
    let socket: tls.TLSSocket | undefined;

    let settled = false;
    const finish = (result: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket?.destroy();
      tcp.destroy();
      resolve({ ...identity(target), ...result, scannedAt: new Date().toISOString() });
    };
    const fail = (f: ProbeFailure) => finish(socket ? failedResult(socket, f) : noCertificate(f));
    const onAbort = () => fail(failure('timeout', where, 'scan cancelled'));

    const timer = setTimeout(
      () => fail(failure('timeout', where, `${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });

    tcp.once('error', (err) => fail(classifyProbeError(err, where)));
    tcp.once('connect', () => {
      socket = startHandshake(tcp, target, options.secureContext);
      socket.once('secureConnect', () => finish(handshakeResult(socket!)));
      socket.once('error', (err) => fail(classifyProbeError(err, where)));
      socket.once('close', () =>
        fail(failure('handshake', where, 'connection closed during the handshake')),
      );
    });
  });
}

type ProbeOutcome = Omit<EndpointResult, 'host' | 'address' | 'port' | 'sni' | 'scannedAt'>;

function startHandshake(tcp: net.Socket, target: ProbeTarget, secureContext: tls.SecureContext) {
  return tls.connect({
    socket: tcp,
    servername: target.sni ?? undefined,
    secureContext,
    rejectUnauthorized: false,
  });
}

function identity(target: ProbeTarget) {
  return { host: target.host, address: target.address, port: target.port, sni: target.sni };
}

function handshakeResult(socket: tls.TLSSocket) {
  const cipher = socket.getCipher();
  return {
    tlsVersion: socket.getProtocol(),
    cipher: cipher?.standardName ?? cipher?.name ?? null,
    chain: peerChain(socket),
  };
}

// A server that demands a client certificate rejects us only after it sent its own: keep
// that chain, because discovery is about the server's certificate, not about access.
function failedResult(socket: tls.TLSSocket, f: ProbeFailure) {
  const chain = safePeerChain(socket);
  if (chain.length > 0) return { ...handshakeResult(socket), chain };
  return noCertificate(f);
}

function noCertificate(f: ProbeFailure): ProbeOutcome {
  return { tlsVersion: null, cipher: null, chain: [], error: f };
}

function safePeerChain(socket: tls.TLSSocket) {
  try {
    return peerChain(socket);
  } catch {
    return [];
  }
}

/** `host:port`, with IPv6 addresses bracketed. */
export function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
