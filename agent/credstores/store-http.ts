import { Agent, request, type Dispatcher } from 'undici';
import { OperationalError } from '../cli/errors.ts';
import type { StoreDeps, StoreTlsOptions } from './store.ts';
import { directConnector } from '../proxy/direct-connector.ts';

export interface StoreResponse {
  status: number;
  /** Parsed JSON when the body is JSON, else the raw text. */
  body: unknown;
}

export interface StoreRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * The HTTP side shared by the remote stores: one dispatcher per store (its CA, its client
 * certificate, the agent's proxy), bounded timeouts, and connection failures turned into
 * messages that name the store and its address.
 */
export class StoreHttp {
  private readonly dispatcher: Dispatcher;

  constructor(
    private readonly storeName: string,
    tls: StoreTlsOptions,
    deps: Pick<StoreDeps, 'proxyDispatcher'>,
    private readonly timeoutMs = 15_000,
  ) {
    this.dispatcher = deps.proxyDispatcher
      ? deps.proxyDispatcher(tls)
      : new Agent({ connect: directConnector({ ...tls, timeout: timeoutMs }) });
  }

  async send(req: StoreRequest): Promise<StoreResponse> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw this.unreachable(req.url, err);
    }
    const text = await res.body.text();
    return { status: res.statusCode, body: parseBody(text) };
  }

  private unreachable(url: URL, err: unknown): OperationalError {
    const e = err as NodeJS.ErrnoException;
    const detail = e.code ? `${e.code}: ${e.message}` : e.message;
    return new OperationalError(
      `credential store "${this.storeName}" at ${url.origin} cannot be reached (${detail}); ` +
        'check its address, the proxy settings, its CA / client certificate, and that it is up',
      'credstore-unreachable',
      { cause: err },
    );
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A short description of an error body, for messages: never the request's secrets. */
export function bodySummary(body: unknown): string {
  if (body === undefined) return 'empty body';
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}
