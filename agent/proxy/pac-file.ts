import dns from 'node:dns/promises';
import os from 'node:os';
import { request } from 'undici';
import { OperationalError } from '../cli/errors.ts';
import { PacSandbox } from './pac-sandbox.ts';
import { parsePacAnswer, type ProxyRoute } from './proxy-route.ts';

const MAX_PAC_BYTES = 1024 * 1024;
const FETCH_TIMEOUT_MS = 10_000;
const DNS_TIMEOUT_MS = 2000;
/** How long a downloaded PAC file is used before it is fetched again. */
const PAC_TTL_MS = 10 * 60_000;

/**
 * A PAC URL: downloads the file (directly, as browsers do), compiles it in the sandbox,
 * and answers the ordered routes for each target URL.
 */
export class PacFile {
  private compiled?: { sandbox: PacSandbox; at: number };

  constructor(
    readonly url: string,
    private readonly now: () => number = Date.now,
  ) {}

  async routesFor(target: URL): Promise<ProxyRoute[]> {
    const sandbox = await this.load();
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const answers = await resolveForPac(host);
    return parsePacAnswer(await sandbox.evaluate(target.href, host, answers), this.url);
  }

  /** Stops the PAC worker; the next lookup downloads and compiles the file again. */
  async close(): Promise<void> {
    const compiled = this.compiled;
    this.compiled = undefined;
    await compiled?.sandbox.close();
  }

  // A sandbox that died (endless loop, memory) is dropped, so the next call starts afresh.
  private async load(): Promise<PacSandbox> {
    const fresh = this.compiled && this.now() - this.compiled.at < PAC_TTL_MS;
    if (fresh && this.compiled!.sandbox.alive) return this.compiled!.sandbox;
    await this.close();
    const source = await fetchPac(this.url);
    const sandbox = await PacSandbox.compile(source, this.url, localAddress());
    this.compiled = { sandbox, at: this.now() };
    return sandbox;
  }
}

async function fetchPac(url: string): Promise<string> {
  const fail = (why: string, cause?: unknown) =>
    new OperationalError(
      `cannot download PAC file ${url}: ${why}; check the PAC URL (config set proxy.pac-url) ` +
        'or set a proxy host and port instead',
      'pac-unreachable',
      { cause },
    );
  try {
    // undici follows no redirect by default: a PAC URL that moved is reported, not chased.
    const res = await request(url, {
      headersTimeout: FETCH_TIMEOUT_MS,
      bodyTimeout: FETCH_TIMEOUT_MS,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw fail(`HTTP ${res.statusCode}`);
    }
    return await readLimited(res.body, url);
  } catch (err) {
    if (err instanceof OperationalError) throw err;
    throw fail((err as Error).message, err);
  }
}

async function readLimited(body: AsyncIterable<Buffer>, url: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_PAC_BYTES) {
      throw new OperationalError(
        `PAC file ${url} is larger than ${MAX_PAC_BYTES} ` +
          `bytes; a PAC file is a small script, check the URL`,
        'pac-invalid',
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// The sandbox cannot do DNS itself, so the target's address is looked up beforehand.
async function resolveForPac(host: string): Promise<Record<string, string>> {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return {};
  const timeout = new Promise<null>((resolve) => setTimeout(resolve, DNS_TIMEOUT_MS, null).unref());
  const lookup = dns.lookup(host, { family: 4 }).then(
    (r) => r.address,
    () => null,
  );
  const address = await Promise.race([lookup, timeout]);
  return address ? { [host.toLowerCase()]: address } : {};
}

function localAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    const v4 = list?.find((i) => i.family === 'IPv4' && !i.internal);
    if (v4) return v4.address;
  }
  return '127.0.0.1';
}
