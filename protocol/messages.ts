/**
 * Message bodies of the wire protocol, all JSON. Each request type has a validator in
 * validate.ts, used by the receiving side before it trusts a field.
 */

/** POST register: the agent proves it holds a token and asks for a certificate. */
export interface RegisterRequest {
  token: string;
  /** PKCS#10 request in PEM, signed by the key the agent just generated. */
  csr: string;
  version: string;
  hostname: string;
}

export interface RegisterResponse {
  agentId: string;
  name: string;
  /** The agent's client certificate, PEM, issued by the manager's CA. */
  certificate: string;
  /** The CA that issued it; the agent presents the certificate on every later call. */
  caCertificate: string;
}

export interface HeartbeatRequest {
  version: string;
  /** Result batches still waiting on the agent's disk. */
  queuedBatches: number;
}

export interface HeartbeatResponse {
  serverTime: string;
  /** How often the server expects a heartbeat; missing three marks the agent Disconnected. */
  heartbeatIntervalMs: number;
}

/**
 * A unit of work. `kind` selects the handler on both sides; the payload shape is fixed
 * per kind (see tasks.ts). Unknown kinds are answered with a task error, never ignored.
 */
export interface TaskMessage {
  id: string;
  kind: string;
  payload: unknown;
}

export interface TasksResponse {
  tasks: TaskMessage[];
}

/**
 * One batch of results of one task. The agent writes it to disk before sending and
 * deletes it only after the server echoes `batchId`; the server ignores a batch id it
 * has already stored, so a resend after a lost acknowledgement is harmless.
 */
export interface ResultBatch {
  batchId: string;
  taskId: string;
  /** Results in the kind's result shape (for discovery: DiscoveredEndpoint). */
  items: unknown[];
  /** Set on the last batch of a task: the task is then done (or failed with `error`). */
  final: boolean;
  error?: string;
}

export interface ResultAck {
  batchId: string;
}

/** Error body of every non-2xx answer. `code` is stable; `message` is for the operator. */
export interface ErrorBody {
  code: string;
  message: string;
}
