import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type {
  HeartbeatResponse,
  RegisterResponse,
  ResultAck,
  TasksResponse,
} from '../../protocol/messages.ts';
import {
  parseHeartbeatRequest,
  parseRegisterRequest,
  parseResultBatch,
  ProtocolError,
} from '../../protocol/validate.ts';
import {
  BadCsrError,
  certificateSha256,
  signAgentCsr,
  type CertificateAuthority,
} from '../ca/certificate-authority.ts';
import {
  consumeToken,
  findAgentByCertificate,
  heartbeatIntervalMs,
  recordHeartbeat,
  recordRegistration,
  type AgentRow,
} from '../store/agents.ts';
import type { Db } from '../store/database.ts';
import { findTask, finishTask, takeTasks } from '../store/tasks.ts';
import { taskKind } from '../tasks/kinds.ts';
import { HttpError } from './http-error.ts';

export interface RouteContext {
  db: Db;
  ca: CertificateAuthority;
  log: Logger;
  socket: TLSSocket;
}

export type Route = (ctx: RouteContext, body: unknown) => Promise<unknown> | unknown;

/** Method + path → handler. New endpoints are added here and in protocol/version.ts. */
export const ROUTES: Record<string, Route> = {
  'POST /v1/register': register,
  'POST /v1/heartbeat': (ctx, body) => heartbeat(ctx, authenticate(ctx), body),
  'GET /v1/tasks': (ctx) => tasks(ctx, authenticate(ctx)),
  'POST /v1/results': (ctx, body) => results(ctx, authenticate(ctx), body),
};

async function register(ctx: RouteContext, body: unknown): Promise<RegisterResponse> {
  const req = validated(() => parseRegisterRequest(body));
  // Consumed before signing: a token is burnt even if the CSR then fails, so it cannot be
  // replayed; the administrator issues a new one.
  const agent = consumeToken(ctx.db, req.token);
  if (!agent) {
    ctx.log.warn({ hostname: req.hostname }, 'registration refused: unknown or used token');
    throw new HttpError(
      401,
      'token-invalid',
      'the installation token is unknown or has already been used',
    );
  }

  let certificate: string;
  try {
    certificate = await signAgentCsr(ctx.ca, req.csr, agent.id);
  } catch (err) {
    if (err instanceof BadCsrError) throw new HttpError(400, 'bad-csr', err.message);
    throw err;
  }
  recordRegistration(ctx.db, agent.id, certificateSha256(certificate), req.hostname, req.version);
  ctx.log.info(
    { agent: agent.name, agentId: agent.id, hostname: req.hostname },
    'agent registered',
  );
  return { agentId: agent.id, name: agent.name, certificate, caCertificate: ctx.ca.certPem };
}

function heartbeat(ctx: RouteContext, agent: AgentRow, body: unknown): HeartbeatResponse {
  const req = validated(() => parseHeartbeatRequest(body));
  recordHeartbeat(ctx.db, agent.id, req.version);
  return { serverTime: new Date().toISOString(), heartbeatIntervalMs: heartbeatIntervalMs(ctx.db) };
}

function tasks(ctx: RouteContext, agent: AgentRow): TasksResponse {
  const rows = takeTasks(ctx.db, agent.id);
  return {
    tasks: rows.map((t) => ({ id: t.id, kind: t.kind, payload: JSON.parse(t.payload) as unknown })),
  };
}

function results(ctx: RouteContext, agent: AgentRow, body: unknown): ResultAck {
  const batch = validated(() => parseResultBatch(body));
  const task = findTask(ctx.db, batch.taskId);
  if (!task || task.agent_id !== agent.id) {
    throw new HttpError(404, 'unknown-task', `task ${batch.taskId} does not exist for this agent`);
  }
  const kind = taskKind(task.kind);
  if (!kind) {
    // 422: the agent sets such a batch aside instead of resending it forever.
    throw new HttpError(422, 'unknown-kind', `task kind ${task.kind} is not registered here`);
  }

  ctx.db.transaction(() => {
    // A resend after a lost acknowledgement: already stored, just acknowledge again.
    if (ctx.db.prepare('SELECT 1 FROM result_batches WHERE batch_id = ?').get(batch.batchId))
      return;
    const resultCtx = { taskId: task.id, ca: ctx.ca };
    const stored = validated(() => kind.storeItems(ctx.db, agent.id, batch.items, resultCtx));
    ctx.db
      .prepare(
        'INSERT INTO result_batches(batch_id, task_id, items, received_at) VALUES (?, ?, ?, ?)',
      )
      .run(batch.batchId, task.id, stored, new Date().toISOString());
    if (batch.final)
      finishTask(ctx.db, task.id, kind.summarise(ctx.db, task.id, resultCtx), batch.error);
  })();
  ctx.log.info(
    { agent: agent.name, taskId: task.id, items: batch.items.length, final: batch.final },
    'results stored',
  );
  return { batchId: batch.batchId };
}

/** The agent behind the client certificate of this connection, or 401/403. */
function authenticate(ctx: RouteContext): AgentRow {
  if (!ctx.socket.authorized) {
    throw new HttpError(
      401,
      'client-certificate-required',
      'a client certificate issued by this manager is required; register the agent first',
    );
  }
  const fingerprint = ctx.socket.getPeerCertificate(false).fingerprint256 ?? '';
  const agent = findAgentByCertificate(ctx.db, fingerprint.replaceAll(':', '').toLowerCase());
  if (!agent)
    throw new HttpError(
      403,
      'unknown-agent',
      'this client certificate belongs to no registered agent',
    );
  return agent;
}

function validated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ProtocolError) throw new HttpError(400, 'bad-request', err.message);
    throw err;
  }
}
