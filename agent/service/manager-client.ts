import { request, type Dispatcher } from 'undici';
import type {
  ErrorBody,
  HeartbeatRequest,
  HeartbeatResponse,
  RegisterRequest,
  RegisterResponse,
  ResultAck,
  ResultBatch,
  TasksResponse,
} from '../../protocol/messages.ts';
import { API_PATHS } from '../../protocol/version.ts';
import { OperationalError } from '../cli/errors.ts';

/** The manager answered with an error status; `code` is the protocol's stable code. */
export class ManagerRejectedError extends OperationalError {
  constructor(
    message: string,
    code: string,
    readonly status: number,
  ) {
    super(message, code);
  }
}

/**
 * The agent's only HTTP client towards the management server. It takes a Dispatcher
 * (built by dispatcher.ts with the agent's TLS identity and, later, the proxy), so no
 * other module opens connections to the manager.
 */
export class ManagerClient {
  constructor(
    readonly serverUrl: string,
    private readonly dispatcher: Dispatcher,
  ) {}

  register(body: RegisterRequest): Promise<RegisterResponse> {
    return this.call('POST', API_PATHS.register, body);
  }

  heartbeat(body: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.call('POST', API_PATHS.heartbeat, body);
  }

  tasks(): Promise<TasksResponse> {
    return this.call('GET', API_PATHS.tasks);
  }

  sendResults(batch: ResultBatch): Promise<ResultAck> {
    return this.call('POST', API_PATHS.results, batch);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.serverUrl);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        dispatcher: this.dispatcher,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new OperationalError(
        `cannot reach the management server ${url.origin}: ${describeNetworkError(err)}; ` +
          `check the URL, the network or proxy settings, and the CA (--ca or SSL_CERT_FILE)`,
        'manager-unreachable',
        { cause: err },
      );
    }
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return JSON.parse(text) as T;
    throw rejection(url, res.statusCode, text);
  }
}

function rejection(url: URL, status: number, text: string): ManagerRejectedError {
  let body: Partial<ErrorBody> = {};
  try {
    body = JSON.parse(text) as ErrorBody;
  } catch {
    // Not our manager (a proxy error page, say): report the status alone.
  }
  const message = body.message ?? `HTTP ${status}`;
  return new ManagerRejectedError(
    `${url.origin}${url.pathname} refused the request: ${message}`,
    body.code ?? `http-${status}`,
    status,
  );
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const parts = [e.code, e.message, e.cause?.code, e.cause?.message].filter(Boolean);
  return [...new Set(parts)].join(': ') || String(err);
}
