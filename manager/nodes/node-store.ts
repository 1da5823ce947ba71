import crypto from 'node:crypto';
import type { Db } from '../store/database.ts';
import type { NodeSpec } from '../../protocol/node-tasks.ts';

// Kept apart from the core schema: created on first use by the node verbs and task kinds.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS nodes (
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL REFERENCES agents(id), name TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS node_sites (
  node_name TEXT NOT NULL, site_id TEXT NOT NULL, site TEXT NOT NULL, seen_at TEXT NOT NULL,
  PRIMARY KEY (node_name, site_id));
CREATE TABLE IF NOT EXISTS installs (
  id TEXT PRIMARY KEY, node_name TEXT NOT NULL, site_id TEXT NOT NULL, subject TEXT,
  state TEXT NOT NULL, fingerprint TEXT, not_after TEXT, error TEXT, result TEXT,
  renewal_of TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);`;

export function ensureNodeSchema(db: Db): void {
  db.exec(SCHEMA);
  // Added after the first release of the table: the CSR waits here while its state is
  // `signing`, so a server that died before signing can sign it after a restart.
  const columns = db.prepare('PRAGMA table_info(installs)').all() as Array<{ name: string }>;
  if (!columns.some((c) => c.name === 'csr')) db.exec('ALTER TABLE installs ADD COLUMN csr TEXT');
}

export interface NodeRow {
  id: string;
  agent_id: string;
  name: string;
  spec: string;
  created_at: string;
}

export function addNode(db: Db, agentId: string, spec: NodeSpec): NodeRow {
  ensureNodeSchema(db);
  const id = crypto.randomUUID();
  db.prepare('INSERT INTO nodes(id, agent_id, name, spec, created_at) VALUES (?, ?, ?, ?, ?)').run(
    id,
    agentId,
    spec.name,
    JSON.stringify(spec),
    new Date().toISOString(),
  );
  return findNode(db, spec.name)!;
}

export function findNode(db: Db, name: string): NodeRow | undefined {
  ensureNodeSchema(db);
  return db.prepare('SELECT * FROM nodes WHERE name = ?').get(name) as NodeRow | undefined;
}

export function listNodes(db: Db): NodeRow[] {
  ensureNodeSchema(db);
  return db.prepare('SELECT * FROM nodes ORDER BY name').all() as NodeRow[];
}

export function storeSite(db: Db, nodeName: string, site: { id: string }): void {
  ensureNodeSchema(db);
  db.prepare(
    'INSERT INTO node_sites(node_name, site_id, site, seen_at) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT(node_name, site_id) DO UPDATE SET ' +
      'site = excluded.site, seen_at = excluded.seen_at',
  ).run(nodeName, site.id, JSON.stringify(site), new Date().toISOString());
}

export function listSites(db: Db, nodeName: string): Array<Record<string, unknown>> {
  ensureNodeSchema(db);
  const rows = db
    .prepare('SELECT site FROM node_sites WHERE node_name = ? ORDER BY site_id')
    .all(nodeName) as Array<{ site: string }>;
  return rows.map((r) => JSON.parse(r.site) as Record<string, unknown>);
}

export type InstallState = 'requested' | 'signing' | 'placing' | 'installed' | 'failed';

export interface InstallRow {
  id: string;
  node_name: string;
  site_id: string;
  subject: string | null;
  state: InstallState;
  fingerprint: string | null;
  not_after: string | null;
  error: string | null;
  result: string | null;
  renewal_of: string | null;
  /** The agent's CSR, kept from `signing` on (public data, no key). */
  csr: string | null;
  created_at: string;
  updated_at: string;
}

export function addInstall(
  db: Db,
  nodeName: string,
  siteId: string,
  subject: unknown,
  renewalOf?: string,
): InstallRow {
  ensureNodeSchema(db);
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  db.prepare(
    'INSERT INTO installs(id, node_name, site_id, subject, state, ' +
      'renewal_of, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  ).run(
    id,
    nodeName,
    siteId,
    subject ? JSON.stringify(subject) : null,
    'requested',
    renewalOf ?? null,
    now,
    now,
  );
  return findInstall(db, id)!;
}

export function findInstall(db: Db, id: string): InstallRow | undefined {
  ensureNodeSchema(db);
  return db.prepare('SELECT * FROM installs WHERE id = ?').get(id) as InstallRow | undefined;
}

export function updateInstall(db: Db, id: string, fields: Partial<Omit<InstallRow, 'id'>>): void {
  const keys = Object.keys(fields);
  if (keys.length === 0) return;
  const set = [...keys.map((k) => `${k} = ?`), 'updated_at = ?'].join(', ');
  db.prepare(`UPDATE installs SET ${set} WHERE id = ?`).run(
    ...keys.map((k) => (fields as Record<string, unknown>)[k] ?? null),
    new Date().toISOString(),
    id,
  );
}

export function listInstalls(db: Db): InstallRow[] {
  ensureNodeSchema(db);
  return db.prepare('SELECT * FROM installs ORDER BY created_at').all() as InstallRow[];
}
