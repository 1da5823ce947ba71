import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { request, type Dispatcher } from 'undici';
import { OperationalError } from '../cli/errors.ts';

export interface TransferLimits {
  /** Dispatcher that carries the proxy settings; undici's global one when absent. */
  dispatcher?: Dispatcher;
  /** Whole-transfer deadline: a host trickling bytes cannot hold the client forever. */
  deadlineMs: number;
}

/**
 * Fetches a small document (a manifest, a feed, a signature) into memory, refusing it as
 * soon as it grows past `maxBytes`, so a hostile host cannot exhaust memory.
 */
export async function fetchBounded(
  url: string,
  limits: TransferLimits & { maxBytes: number },
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  await transfer(url, limits, {}, (res) => {
    checkDeclaredLength(url, res, limits.maxBytes);
    return (chunk) => {
      received += chunk.length;
      if (received > limits.maxBytes) throw oversized(url, limits.maxBytes);
      chunks.push(chunk);
    };
  });
  return Buffer.concat(chunks);
}

export interface VerifiedDownload extends TransferLimits {
  destination: string;
  /** Exact size and SHA-256 from the signed document. */
  size: number;
  sha256: string;
}

/**
 * Downloads a file whose size and SHA-256 a signed document states. Bytes past the stated
 * size abort the transfer; a partial file left by an interrupted run is resumed with a
 * Range request; the hash of the whole file is checked before it is renamed into place,
 * and a file that does not match is deleted.
 */
export async function downloadVerified(url: string, options: VerifiedDownload): Promise<void> {
  const partial = `${options.destination}.part`;
  let offset = await existingSize(partial);
  if (offset > options.size) {
    await fsp.rm(partial, { force: true });
    offset = 0;
  }

  if (offset < options.size) await fetchInto(url, partial, offset, options);
  await checkHash(url, partial, options.sha256);
  await fsp.rename(partial, options.destination);
}

async function fetchInto(
  url: string,
  partial: string,
  offset: number,
  options: VerifiedDownload,
): Promise<void> {
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  let out: fs.WriteStream | undefined;
  let written = 0;

  try {
    await transfer(url, options, headers, (res) => {
      // A host that ignores Range sends the whole file again: start over.
      const resumed = res.statusCode === 206;
      written = resumed ? offset : 0;
      checkDeclaredLength(url, res, options.size - written);
      out = fs.createWriteStream(partial, { flags: resumed ? 'a' : 'w', mode: 0o600 });
      return (chunk) => {
        written += chunk.length;
        if (written > options.size) throw oversized(url, options.size);
        out!.write(chunk);
      };
    });
  } finally {
    if (out) await new Promise<void>((resolve) => out!.end(resolve));
  }

  if (written !== options.size) {
    throw new OperationalError(
      `${url}: received ${written} bytes, the signed metadata says ${options.size}; ` +
        'the download was cut short, run again to resume it',
      'download.short',
    );
  }
}

type ChunkSink = (chunk: Buffer) => void;

async function transfer(
  url: string,
  limits: TransferLimits,
  headers: Record<string, string>,
  onResponse: (res: Dispatcher.ResponseData) => ChunkSink,
): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), limits.deadlineMs);
  try {
    const res = await request(url, {
      dispatcher: limits.dispatcher,
      headers,
      signal: controller.signal,
    });
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      res.body.destroy();
      throw new OperationalError(
        `${url}: the distribution host answered HTTP ${res.statusCode}; check the source URL ` +
          'and that the release is published',
        'download.http-status',
      );
    }
    const sink = onResponse(res);
    try {
      for await (const chunk of res.body) sink(chunk as Buffer);
    } finally {
      res.body.destroy();
    }
  } catch (err) {
    if (controller.signal.aborted) throw deadlineExceeded(url, limits.deadlineMs, err);
    if (err instanceof OperationalError) throw err;
    throw new OperationalError(
      `${url}: download failed (${(err as Error).message}); check the network and proxy settings`,
      'download.network',
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

function checkDeclaredLength(url: string, res: Dispatcher.ResponseData, max: number): void {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    res.body.destroy();
    throw oversized(url, max);
  }
}

async function checkHash(url: string, file: string, expected: string): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  const actual = hash.digest('hex');
  if (actual === expected.toLowerCase()) return;

  await fsp.rm(file, { force: true });
  throw new OperationalError(
    `${url}: SHA-256 ${actual} does not match ${expected} from the signed metadata; the file ` +
      'was changed or corrupted on the way, it was deleted and nothing was installed',
    'download.hash-mismatch',
  );
}

async function existingSize(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return 0;
  }
}

function oversized(url: string, max: number): OperationalError {
  return new OperationalError(
    `${url}: the host sent more than ${max} bytes, more than the signed metadata allows; ` +
      'refusing it (a hostile or misconfigured distribution host)',
    'download.oversized',
  );
}

function deadlineExceeded(url: string, ms: number, cause: unknown): OperationalError {
  return new OperationalError(
    `${url}: the transfer did not finish within ${Math.round(ms / 1000)} s; the host or the ` +
      'proxy is too slow or is stalling on purpose, try again later or check the proxy',
    'download.deadline',
    { cause },
  );
}
