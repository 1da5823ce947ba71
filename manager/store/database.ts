import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export type Db = Database.Database;

/**
 * Schema migrations, applied in order and recorded in `user_version`. A new feature
 * appends a step; existing steps are never edited, so old data directories upgrade.
 *
 * The `tasks` table is generic on purpose: every task kind (discovery, node discovery,
 * installation, hold-at-version, ...) stores its input in `payload` and its summary in
 * `result`, both JSON, and registers itself in manager/tasks/kinds.ts. Kind-specific
 * detail that is queried (certificates, endpoints, nodes) gets its own table in a new
 * migration step.
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE agents (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     org TEXT,
     dept TEXT,
     token_hash TEXT UNIQUE,
     created_at TEXT NOT NULL,
     registered_at TEXT,
     cert_sha256 TEXT UNIQUE,
     hostname TEXT,
     version TEXT,
     last_seen TEXT
   );
   CREATE TABLE tasks (
     id TEXT PRIMARY KEY,
     agent_id TEXT NOT NULL REFERENCES agents(id),
     kind TEXT NOT NULL,
     payload TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
     result TEXT,
     error TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX tasks_by_agent ON tasks(agent_id, state);
   CREATE TABLE result_batches (
     batch_id TEXT PRIMARY KEY,
     task_id TEXT NOT NULL REFERENCES tasks(id),
     items INTEGER NOT NULL,
     received_at TEXT NOT NULL
   );
   CREATE TABLE certificates (
     sha256 TEXT PRIMARY KEY,
     subject TEXT NOT NULL,
     issuer TEXT NOT NULL,
     serial TEXT NOT NULL,
     not_before TEXT NOT NULL,
     not_after TEXT NOT NULL,
     sans TEXT NOT NULL,
     key_type TEXT NOT NULL,
     key_bits INTEGER,
     signature_algorithm TEXT NOT NULL,
     pem TEXT NOT NULL,
     first_seen TEXT NOT NULL,
     last_seen TEXT NOT NULL
   );
   CREATE TABLE endpoints (
     agent_id TEXT NOT NULL REFERENCES agents(id),
     host TEXT NOT NULL,
     port INTEGER NOT NULL,
     sni TEXT NOT NULL,
     address TEXT,
     tls_version TEXT,
     cipher TEXT,
     chain TEXT NOT NULL,
     error_code TEXT,
     error_message TEXT,
     scanned_at TEXT NOT NULL,
     PRIMARY KEY (agent_id, host, port, sni)
   );
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

/** Opens (creating if needed) DIR/manager.db and brings its schema up to date. */
export function openDatabase(dataDir: string): Db {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, 'manager.db');
  const db = new Database(file);
  // It holds token hashes and agent identities: owner only.
  fs.chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  // The server and CLI verbs are separate processes on the same file.
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let step = current; step < MIGRATIONS.length; step++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[step]!);
      db.pragma(`user_version = ${step + 1}`);
    })();
  }
}

export function getSetting(db: Db, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
    | { value: string }
    | undefined;
  return row?.value;
}

export function setSetting(db: Db, key: string, value: string): void {
  db.prepare(
    'INSERT INTO settings(key, value) VALUES (?, ?) ON ' +
      'CONFLICT(key) DO UPDATE SET value = excluded.value',
  ).run(key, value);
}
