import crypto from 'node:crypto';
import { getSetting, type Db } from './database.ts';

export type AgentStatus = 'Pending' | 'Connected' | 'Disconnected';

export interface AgentRow {
  id: string;
  name: string;
  org: string | null;
  dept: string | null;
  token_hash: string | null;
  created_at: string;
  registered_at: string | null;
  cert_sha256: string | null;
  hostname: string | null;
  version: string | null;
  last_seen: string | null;
}

export interface AgentView {
  name: string;
  id: string;
  org: string | null;
  dept: string | null;
  status: AgentStatus;
  version: string | null;
  hostname: string | null;
  lastSeen: string | null;
}

/** An agent is Disconnected after this many heartbeat intervals without one. */
export const MISSED_HEARTBEATS = 3;
export const DEFAULT_HEARTBEAT_MS = 30_000;

/** Tokens are 32 random bytes; only their SHA-256 is stored, so a database leak reveals none. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

export class DuplicateAgentError extends Error {}

/** Creates a Pending agent and returns its installation token, which is never stored. */
export function addAgent(
  db: Db,
  input: { name: string; org?: string; dept?: string },
): { agent: AgentRow; token: string } {
  const token = crypto.randomBytes(32).toString('base64url');
  const id = crypto.randomUUID();
  try {
    db.prepare(
      'INSERT INTO agents(id, name, org, dept, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(
      id,
      input.name,
      input.org ?? null,
      input.dept ?? null,
      hashToken(token),
      new Date().toISOString(),
    );
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new DuplicateAgentError(`an agent named "${input.name}" already exists`);
    }
    throw err;
  }
  return { agent: findAgentById(db, id)!, token };
}

export function findAgentById(db: Db, id: string): AgentRow | undefined {
  return db.prepare('SELECT * FROM agents WHERE id = ?').get(id) as AgentRow | undefined;
}

export function findAgentByName(db: Db, name: string): AgentRow | undefined {
  return db.prepare('SELECT * FROM agents WHERE name = ?').get(name) as AgentRow | undefined;
}

export function findAgentByCertificate(db: Db, sha256: string): AgentRow | undefined {
  return db.prepare('SELECT * FROM agents WHERE cert_sha256 = ?').get(sha256) as
    | AgentRow
    | undefined;
}

/**
 * Consumes a token: returns the Pending agent it belongs to and erases the hash in the
 * same statement, so two concurrent registrations cannot both succeed.
 */
export function consumeToken(db: Db, token: string): AgentRow | undefined {
  return db.transaction(() => {
    const agent = db.prepare('SELECT * FROM agents WHERE token_hash = ?').get(hashToken(token)) as
      | AgentRow
      | undefined;
    if (!agent) return undefined;
    db.prepare('UPDATE agents SET token_hash = NULL WHERE id = ?').run(agent.id);
    return agent;
  })();
}

export function recordRegistration(
  db: Db,
  id: string,
  certSha256: string,
  hostname: string,
  version: string,
): void {
  const now = new Date().toISOString();
  db.prepare(
    'UPDATE agents SET registered_at = ?, cert_sha256 = ?, ' +
      'hostname = ?, version = ?, last_seen = ? WHERE id = ?',
  ).run(now, certSha256, hostname, version, now, id);
}

export function recordHeartbeat(db: Db, id: string, version: string): void {
  db.prepare('UPDATE agents SET version = ?, last_seen = ? WHERE id = ?').run(
    version,
    new Date().toISOString(),
    id,
  );
}

export function heartbeatIntervalMs(db: Db): number {
  return Number(getSetting(db, 'heartbeat_interval_ms') ?? DEFAULT_HEARTBEAT_MS);
}

export function agentStatus(agent: AgentRow, intervalMs: number, now = Date.now()): AgentStatus {
  if (!agent.registered_at) return 'Pending';
  const last = agent.last_seen ? Date.parse(agent.last_seen) : 0;
  return now - last <= MISSED_HEARTBEATS * intervalMs ? 'Connected' : 'Disconnected';
}

export function listAgents(db: Db): AgentView[] {
  const interval = heartbeatIntervalMs(db);
  const rows = db.prepare('SELECT * FROM agents ORDER BY name').all() as AgentRow[];
  return rows.map((a) => ({
    name: a.name,
    id: a.id,
    org: a.org,
    dept: a.dept,
    status: agentStatus(a, interval),
    version: a.version,
    hostname: a.hostname,
    lastSeen: a.last_seen,
  }));
}
