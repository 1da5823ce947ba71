import dns from 'node:dns/promises';
import { classifyProbeError, failure, type ProbeFailure } from './probe-error.ts';

export type Resolution = { addresses: string[] } | { error: ProbeFailure };

/**
 * Resolves host names the way the system does (hosts file, then DNS), bounded by the probe
 * timeout. Remembers the last names it resolved, so many ports of one host cost one lookup.
 */
export class HostResolver {
  private readonly cache = new Map<string, Promise<Resolution>>();

  constructor(
    private readonly timeoutMs: number,
    private readonly cacheSize = 256,
  ) {}

  resolve(host: string): Promise<Resolution> {
    const cached = this.cache.get(host);
    if (cached) return cached;

    const pending = this.lookup(host);
    this.cache.set(host, pending);
    // Map keeps insertion order: the first key is the oldest entry.
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return pending;
  }

  // getaddrinfo cannot be cancelled: on timeout the lookup keeps a libuv thread until the
  // resolver gives up, but the scan moves on.
  private async lookup(host: string): Promise<Resolution> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Resolution>((resolve) => {
      timer = setTimeout(
        () => resolve({ error: failure('dns', host, `no answer within ${this.timeoutMs} ms`) }),
        this.timeoutMs,
      );
    });
    const answer = dns
      .lookup(host, { all: true, verbatim: true })
      .then((list): Resolution => ({ addresses: [...new Set(list.map((a) => a.address))] }))
      .catch((err: unknown): Resolution => ({ error: classifyProbeError(err, host) }));
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
