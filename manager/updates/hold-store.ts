import type { Db } from '../store/database.ts';

/**
 * Which agents the operator holds at a version, and what each agent last confirmed.
 * Kept in its own table, created on first use, so the core migrations stay untouched.
 */
export interface HoldRow {
  agent_id: string;
  requested: string | null;
  confirmed: string | null;
  confirmed_at: string | null;
}

export function ensureHoldTable(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS update_holds (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    requested TEXT,
    confirmed TEXT,
    confirmed_at TEXT
  )`);
}

export function requestHold(db: Db, agentId: string, version: string | null): void {
  ensureHoldTable(db);
  db.prepare(
    `INSERT INTO update_holds (agent_id, requested) VALUES (?, ?)
     ON CONFLICT(agent_id) DO UPDATE SET requested = excluded.requested`,
  ).run(agentId, version);
}

export function confirmHold(db: Db, agentId: string, heldAt: string | null): void {
  ensureHoldTable(db);
  db.prepare(
    `INSERT INTO update_holds (agent_id, confirmed, confirmed_at) VALUES (?, ?, ?)
     ON CONFLICT(agent_id) DO UPDATE SET confirmed = excluded.confirmed,
       confirmed_at = excluded.confirmed_at`,
  ).run(agentId, heldAt, new Date().toISOString());
}

export function listHolds(db: Db): Map<string, HoldRow> {
  ensureHoldTable(db);
  const rows = db.prepare('SELECT * FROM update_holds').all() as HoldRow[];
  return new Map(rows.map((r) => [r.agent_id, r]));
}
