/**
 * The local control protocol: one JSON object per line over a Unix socket (a named pipe
 * on Windows). A request is `{id, method, params}`, the answer `{id, result}` or
 * `{id, error: {code, message}}`. Methods are namespaced: `service.*` by the service,
 * `credstore.*` by the credential stores.
 */
export interface ControlRequest {
  id: number;
  method: string;
  params?: unknown;
}

export interface ControlResponse {
  id: number;
  result?: unknown;
  error?: { code: string; message: string };
}

/** A request line longer than this is refused: the socket only carries small commands. */
export const MAX_CONTROL_LINE = 1024 * 1024;
