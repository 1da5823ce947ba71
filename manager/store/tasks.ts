import crypto from 'node:crypto';
import type { Db } from './database.ts';

export type TaskState = 'queued' | 'running' | 'done' | 'failed';

export interface TaskRow {
  id: string;
  agent_id: string;
  kind: string;
  payload: string;
  state: TaskState;
  result: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** Queues a task of any registered kind for one agent. */
export function addTask(db: Db, agentId: string, kind: string, payload: unknown): TaskRow {
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  db.prepare(
    'INSERT INTO tasks(id, agent_id, kind, payload, state, ' +
      "created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
  ).run(id, agentId, kind, JSON.stringify(payload), now, now);
  return findTask(db, id)!;
}

export function findTask(db: Db, id: string): TaskRow | undefined {
  return db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as TaskRow | undefined;
}

/**
 * Tasks the agent should be working on. Running ones are handed out again: an agent that
 * restarted mid-task runs it again (results are idempotent), one still running it skips it.
 */
export function takeTasks(db: Db, agentId: string): TaskRow[] {
  return db.transaction(() => {
    const rows = db
      .prepare(
        'SELECT * FROM tasks WHERE agent_id = ? AND state ' +
          "IN ('queued', 'running') ORDER BY created_at",
      )
      .all(agentId) as TaskRow[];
    db.prepare(
      "UPDATE tasks SET state = 'running', updated_at = ? WHERE agent_id = ? AND state = 'queued'",
    ).run(new Date().toISOString(), agentId);
    return rows;
  })();
}

export function finishTask(db: Db, id: string, result: unknown, error?: string): void {
  db.prepare('UPDATE tasks SET state = ?, result = ?, error = ?, updated_at = ? WHERE id = ?').run(
    error ? 'failed' : 'done',
    JSON.stringify(result),
    error ?? null,
    new Date().toISOString(),
    id,
  );
}

export function listTasks(db: Db, agentId?: string): TaskRow[] {
  if (agentId)
    return db
      .prepare('SELECT * FROM tasks WHERE agent_id = ? ORDER BY created_at')
      .all(agentId) as TaskRow[];
  return db.prepare('SELECT * FROM tasks ORDER BY created_at').all() as TaskRow[];
}
