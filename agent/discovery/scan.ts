import { setMaxListeners } from 'node:events';
import net from 'node:net';
import type tls from 'node:tls';
import { UsageError } from '../cli/errors.ts';
import { limitHeapGrowth } from './heap-growth.ts';
import type { EndpointResult } from './endpoint.ts';
import { expandPorts, parsePorts, type PortRange } from './ports.ts';
import { createDiscoveryContext, probeEndpoint } from './probe.ts';
import { HostResolver } from './resolve.ts';
import { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS } from './scan-defaults.ts';
import { expandTargets, parseTargets, type Target } from './targets.ts';

export interface ScanOptions {
  /** Host names, addresses, CIDR or FIRST-LAST ranges; comma lists allowed. */
  targets: string[];
  /** Port list, e.g. `443,8443,9000-9100`. */
  ports: string;
  /** Server name to send; by default a host name target sends its own name, an address none. */
  sni?: string;
  /** Handshakes in flight at once (default 64). */
  concurrency?: number;
  /** Per endpoint, connect and handshake together (default 5000 ms). */
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; found: number }) => void;
}

export { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS };

interface Job {
  target: Target;
  port: number;
}

/**
 * Probes every (target, port) pair and yields one result per endpoint as it completes,
 * in completion order. Targets and ports are streamed, at most `concurrency` probes are
 * in flight, and each costs at most one timeout. Bad input throws UsageError before the
 * first probe; after that nothing throws: failures are results with an `error`.
 */
export function scan(options: ScanOptions): AsyncIterable<EndpointResult> {
  const settings = validate(options);
  return { [Symbol.asyncIterator]: () => runScan(settings) };
}

interface Settings {
  jobs: () => Iterator<Job>;
  sni: string | null;
  concurrency: number;
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: ScanOptions['onProgress'];
}

function validate(options: ScanOptions): Settings {
  const specs = parseTargets(options.targets);
  const ports = parsePorts(options.ports);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
    throw new UsageError(`bad concurrency '${options.concurrency}': use a whole number of 1-10000`);
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new UsageError(`bad timeout '${options.timeoutMs}': use milliseconds, 1-600000`);
  }
  if (options.sni !== undefined && (options.sni === '' || net.isIP(options.sni))) {
    throw new UsageError(`bad SNI '${options.sni}': a server name is a host name, not an address`);
  }
  return {
    jobs: () => jobsOf(expandTargets(specs), ports),
    sni: options.sni ?? null,
    concurrency,
    timeoutMs,
    signal: options.signal,
    onProgress: options.onProgress,
  };
}

function* jobsOf(targets: Iterable<Target>, ports: PortRange[]): Generator<Job> {
  for (const target of targets) {
    for (const port of expandPorts(ports)) yield { target, port };
  }
}

async function* runScan(settings: Settings): AsyncGenerator<EndpointResult> {
  limitHeapGrowth();
  const stop = linkedAbort(settings.signal, settings.concurrency);
  try {
    yield* pumpProbes({ ...settings, signal: stop.signal });
  } finally {
    // A consumer that leaves early must not leave probes running or a listener behind.
    stop.dispose();
  }
}

async function* pumpProbes(settings: Settings): AsyncGenerator<EndpointResult> {
  const context = createDiscoveryContext();
  const resolver = new HostResolver(settings.timeoutMs);
  const jobs = settings.jobs();
  const ready: EndpointResult[] = [];
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const progress = { done: 0, found: 0 };

  const launch = (job: Job) => {
    inFlight++;
    void probeJob(job, settings, context, resolver).then((results) => {
      inFlight--;
      ready.push(...results);
      wake?.();
    });
  };

  let next = jobs.next();
  for (;;) {
    while (inFlight < settings.concurrency && !next.done && !settings.signal?.aborted) {
      launch(next.value);
      next = jobs.next();
    }
    if (ready.length === 0 && inFlight === 0) return;
    if (ready.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;

    // Hand out everything finished so far; new probes start as soon as the consumer asks.
    for (const result of ready.splice(0)) {
      progress.done++;
      if (result.chain.length > 0) progress.found++;
      settings.onProgress?.({ ...progress });
      yield result;
    }
  }
}

// Every probe in flight listens for the abort: give them a signal of our own, with room for
// that many listeners, rather than raise the limit on the caller's.
function linkedAbort(outer: AbortSignal | undefined, concurrency: number) {
  const inner = new AbortController();
  setMaxListeners(concurrency + 8, inner.signal);
  const relay = () => inner.abort();
  if (outer?.aborted) inner.abort();
  outer?.addEventListener('abort', relay, { once: true });
  return {
    signal: inner.signal,
    dispose: () => {
      outer?.removeEventListener('abort', relay);
      inner.abort();
    },
  };
}

async function probeJob(
  job: Job,
  settings: Settings,
  secureContext: tls.SecureContext,
  resolver: HostResolver,
): Promise<EndpointResult[]> {
  const { target, port } = job;
  const sni = settings.sni ?? (target.address === null ? target.host : null);
  const resolution = target.address
    ? { addresses: [target.address] }
    : await resolver.resolve(target.host);
  if ('error' in resolution) return [dnsFailure(target.host, port, sni, resolution.error)];

  const options = { timeoutMs: settings.timeoutMs, secureContext, signal: settings.signal };
  const results: EndpointResult[] = [];
  for (const address of resolution.addresses) {
    results.push(await probeEndpoint({ host: target.host, address, port, sni }, options));
  }
  return results;
}

function dnsFailure(
  host: string,
  port: number,
  sni: string | null,
  error: EndpointResult['error'] & object,
): EndpointResult {
  return {
    host,
    address: null,
    port,
    sni,
    tlsVersion: null,
    cipher: null,
    chain: [],
    error,
    scannedAt: new Date().toISOString(),
  };
}
