import type { CertificateAuthority } from '../ca/certificate-authority.ts';
import type { Db } from '../store/database.ts';

/** What a kind may need beyond the database while it stores results. */
export interface TaskResultContext {
  taskId: string;
  /** The manager's CA, e.g. for a kind that signs certificates and queues a follow-up task. */
  ca: CertificateAuthority;
}

/**
 * What the manager knows about one task kind. To add a kind (node discovery,
 * installation, hold-at-version, ...): write a module exporting a TaskKind, add it to
 * TASK_KINDS below, add its name and payload type to protocol/tasks.ts, and a handler on
 * the agent side (agent/service/task-handlers.ts). A CLI verb that queues it goes in
 * manager/cli/main.ts (see VERBS there).
 */
export interface TaskKind {
  name: string;
  /** Checks and normalises a payload before it is queued; throws ProtocolError when bad. */
  validatePayload(payload: unknown): unknown;
  /**
   * Stores one batch of result items, inside the batch's transaction. Returns how many
   * were stored; throws ProtocolError for an item that does not match the kind's shape.
   */
  storeItems(db: Db, agentId: string, items: unknown[], ctx: TaskResultContext): number;
  /** The task's summary once its final batch arrived (kept in tasks.result). */
  summarise(db: Db, taskId: string, ctx: TaskResultContext): unknown;
}

const registry = new Map<string, TaskKind>();

export function registerTaskKind(kind: TaskKind): void {
  registry.set(kind.name, kind);
}

export function taskKind(name: string): TaskKind | undefined {
  return registry.get(name);
}

export function taskKindNames(): string[] {
  return [...registry.keys()];
}
