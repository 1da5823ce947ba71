import type { EndpointErrorCode } from './endpoint.ts';

/** Why a probe got no certificate: a stable code plus a message an operator can act on. */
export interface ProbeFailure {
  code: EndpointErrorCode;
  message: string;
}

const CODES_BY_ERRNO: Record<string, EndpointErrorCode> = {
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ENETDOWN: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  EAI_NODATA: 'dns',
  EAI_NONAME: 'dns',
  // OpenSSL's reading of a reply that is no TLS record at all (an HTTP or SSH banner).
  ERR_SSL_WRONG_VERSION_NUMBER: 'not-tls',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'not-tls',
  ERR_SSL_HTTP_REQUEST: 'not-tls',
  ERR_SSL_UNKNOWN_PROTOCOL: 'not-tls',
  ERR_SSL_RECORD_LAYER_FAILURE: 'not-tls',
};

const ADVICE: Record<EndpointErrorCode, string> = {
  refused: 'connection refused: nothing listens there, or a firewall rejects; check the port',
  timeout:
    'no TLS handshake within the timeout: the peer is ' +
    'silent or filtered; raise --timeout if it is slow',
  'not-tls': 'the peer answered, but not with TLS: it serves another protocol on this port',
  handshake:
    'TLS handshake failed: the server rejected our hello ' +
    '(protocol, cipher, SNI) or closed the connection',
  dns: 'host name did not resolve: check the name and the resolver configuration',
  unreachable: 'network unreachable from this agent: check routing and the address',
};

/** Classifies a socket, TLS or resolver error of the probe of `where` (host:port). */
export function classifyProbeError(err: unknown, where: string): ProbeFailure {
  const e = err as NodeJS.ErrnoException;
  const code = CODES_BY_ERRNO[e?.code ?? ''] ?? 'handshake';
  return failure(code, where, e?.message ?? String(err));
}

/** A failure of a known kind, e.g. the probe's own timeout. */
export function failure(code: EndpointErrorCode, where: string, detail?: string): ProbeFailure {
  const reason = detail ? readableDetail(detail) : '';
  const suffix = reason ? ` (${reason})` : '';
  return { code, message: `${where}: ${ADVICE[code]}${suffix}` };
}

// OpenSSL's error queue line: "<thread>:error:<code>:<library>:<function>:<reason>:<file>:<line>:".
const OPENSSL_ERROR = /[0-9A-F]+:error:[0-9A-F]+:[^:\n]*:[^:\n]*:([^:\n]+):/g;

/**
 * One line without OpenSSL internals (thread ids, source files): a table row and a JSON
 * consumer need the reason ("wrong version number"), not where inside OpenSSL it was raised.
 */
export function readableDetail(detail: string): string {
  const reasons = [...detail.matchAll(OPENSSL_ERROR)].map((m) => m[1]!.trim());
  const text = reasons.length > 0 ? [...new Set(reasons)].join('; ') : detail;
  return text.replace(/\s+/g, ' ').trim();
}
