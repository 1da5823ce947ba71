import type { HeartbeatRequest, RegisterRequest, ResultBatch } from './messages.ts';
import type { DiscoveredEndpoint, DiscoveryPayload } from './tasks.ts';

/** A message that does not match the protocol; `field` names the first offending field. */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly field = '',
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

type Json = Record<string, unknown>;

function asObject(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(`${what} must be a JSON object`, what);
  }
  return value as Json;
}

function str(obj: Json, field: string, maxLength = 4096): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    throw new ProtocolError(
      `${field} must be a non-empty string of at most ${maxLength} characters`,
      field,
    );
  }
  return v;
}

function optionalStr(obj: Json, field: string, maxLength = 4096): string | undefined {
  return obj[field] === undefined ? undefined : str(obj, field, maxLength);
}

export function parseRegisterRequest(body: unknown): RegisterRequest {
  const o = asObject(body, 'register request');
  return {
    token: str(o, 'token', 256),
    csr: str(o, 'csr', 16_384),
    version: str(o, 'version', 64),
    hostname: str(o, 'hostname', 255),
  };
}

export function parseHeartbeatRequest(body: unknown): HeartbeatRequest {
  const o = asObject(body, 'heartbeat');
  const queued = o.queuedBatches;
  if (!Number.isInteger(queued) || (queued as number) < 0) {
    throw new ProtocolError('queuedBatches must be a non-negative integer', 'queuedBatches');
  }
  return { version: str(o, 'version', 64), queuedBatches: queued as number };
}

export function parseResultBatch(body: unknown): ResultBatch {
  const o = asObject(body, 'result batch');
  if (!Array.isArray(o.items)) throw new ProtocolError('items must be an array', 'items');
  if (typeof o.final !== 'boolean') throw new ProtocolError('final must be a boolean', 'final');
  return {
    batchId: str(o, 'batchId', 128),
    taskId: str(o, 'taskId', 128),
    items: o.items,
    final: o.final,
    error: optionalStr(o, 'error', 8192),
  };
}

export function parseDiscoveryPayload(payload: unknown): DiscoveryPayload {
  const o = asObject(payload, 'discovery payload');
  const targets = o.targets;
  if (
    !Array.isArray(targets) ||
    targets.length === 0 ||
    !targets.every((t) => typeof t === 'string' && t.length > 0)
  ) {
    throw new ProtocolError('targets must be a non-empty array of strings', 'targets');
  }
  return { targets, ports: str(o, 'ports', 4096), sni: optionalStr(o, 'sni', 255) };
}

/** Checks the fields the manager stores; unknown extra fields are kept as sent. */
export function parseDiscoveredEndpoint(item: unknown): DiscoveredEndpoint {
  const o = asObject(item, 'endpoint');
  const port = o.port;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    throw new ProtocolError('port must be an integer between 1 and 65535', 'port');
  }
  if (!Array.isArray(o.chain)) throw new ProtocolError('chain must be an array', 'chain');
  for (const cert of o.chain) {
    const c = asObject(cert, 'chain entry');
    if (typeof c.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(c.sha256)) {
      throw new ProtocolError('chain[].sha256 must be 64 lower-case hex digits', 'sha256');
    }
    str(c, 'pem', 65_536);
  }
  str(o, 'host', 255);
  return o as unknown as DiscoveredEndpoint;
}
