import type { Logger } from 'pino';
import type { TaskMessage } from '../../protocol/messages.ts';
import type { StorePool } from '../credstores/store-pool.ts';
import { TASK_KINDS } from '../../protocol/tasks.ts';
import { parseDiscoveryPayload } from '../../protocol/validate.ts';
import { scan } from '../discovery/scan.ts';
import { NODE_TASK_HANDLERS } from '../installers/node-task-handlers.ts';

/** Hands result items of a running task to the on-disk queue, in batches. */
export type EmitItems = (items: unknown[]) => void;

/** The running service's directories, as resolved from `--base-dir`/CERTAGENT_BASE_DIR. */
export interface TaskPaths {
  base: string;
  conf: string;
}

export interface TaskRunContext {
  log: Logger;
  signal: AbortSignal;
  emit: EmitItems;
  /** Where this agent keeps its configuration (credential stores, pins, pending keys). */
  paths: TaskPaths;
  /** The service's open credential stores: one login per store, its proxy setting honoured. */
  stores: StorePool;
}

/**
 * Runs one task of a kind to completion, emitting results as it goes. Throwing marks the
 * task failed with the error's message. To add a kind: a handler here, keyed by the name
 * from protocol/tasks.ts, and its manager side in manager/tasks/.
 */
export type TaskHandler = (task: TaskMessage, ctx: TaskRunContext) => Promise<void>;

// Well under the manager's body limit (protocol MAX_BODY_BYTES), even for long chains.
const BATCH_SIZE = 50;
const BATCH_BYTES = 1024 * 1024;

const handlers = new Map<string, TaskHandler>([
  [TASK_KINDS.discovery, runDiscovery],
  ...NODE_TASK_HANDLERS,
]);

export function registerTaskHandler(kind: string, handler: TaskHandler): void {
  handlers.set(kind, handler);
}

export function taskHandler(kind: string): TaskHandler | undefined {
  return handlers.get(kind);
}

async function runDiscovery(task: TaskMessage, ctx: TaskRunContext): Promise<void> {
  const payload = parseDiscoveryPayload(task.payload);
  let batch: unknown[] = [];
  let bytes = 0;
  for await (const endpoint of scan({ ...payload, signal: ctx.signal })) {
    batch.push(endpoint);
    bytes += JSON.stringify(endpoint).length;
    if (batch.length >= BATCH_SIZE || bytes >= BATCH_BYTES) {
      ctx.emit(batch);
      batch = [];
      bytes = 0;
    }
  }
  if (batch.length > 0) ctx.emit(batch);
}
