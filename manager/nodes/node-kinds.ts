import path from 'node:path';
import {
  NODE_TASK_KINDS,
  type NodeInstallFinishPayload,
  type NodeInstallPayload,
  type NodeSpec,
} from '../../protocol/node-tasks.ts';
import { ProtocolError } from '../../protocol/validate.ts';
import { loadOrCreateCa } from '../ca/certificate-authority.ts';
import type { Db } from '../store/database.ts';
import { addTask } from '../store/tasks.ts';
import type { TaskKind } from '../tasks/kinds.ts';
import {
  ensureNodeSchema,
  findInstall,
  findNode,
  listInstalls,
  storeSite,
  updateInstall,
} from './node-store.ts';
import { signServerCsr } from './server-certificate.ts';

/** Validity of the certificates the manager's CA issues for web servers. */
export const SERVER_CERT_DAYS = 90;

function object(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new ProtocolError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function string(v: unknown, what: string): string {
  if (typeof v !== 'string' || !v) throw new ProtocolError(`${what} must be a non-empty string`);
  return v;
}

function validateNode(v: unknown): NodeSpec {
  const n = object(v, 'node');
  string(n.name, 'node.name');
  string(n.host, 'node.host');
  if (!['local', 'ssh', 'winrm', 'rest'].includes(n.connection as string)) {
    throw new ProtocolError('node.connection must be local, ssh, winrm or rest');
  }
  return n as unknown as NodeSpec;
}

function countItems(db: Db, taskId: string) {
  const row = db
    .prepare('SELECT COALESCE(SUM(items), 0) AS n FROM result_batches WHERE task_id = ?')
    .get(taskId) as { n: number };
  return row.n;
}

export const nodeDiscoveryKind: TaskKind = {
  name: NODE_TASK_KINDS.discover,
  validatePayload: (p) => ({ node: validateNode(object(p, 'payload').node) }),
  storeItems(db, _agentId, items) {
    for (const raw of items) {
      const item = object(raw, 'item');
      const site = object(item.site, 'item.site');
      storeSite(db, string(item.node, 'item.node'), { ...site, id: string(site.id, 'site.id') });
    }
    return items.length;
  },
  summarise: (db, taskId) => ({ sites: countItems(db, taskId) }),
};

/**
 * The CSR step. Signing is asynchronous (WebCrypto) while storeItems runs inside the
 * batch's transaction, so the CSR is recorded here (state `signing`, with the CSR) and
 * signed right after, in the same server process; the follow-up task then carries the
 * certificate to the agent. A server that dies in between signs it on its next start
 * (resumeSignings).
 */
export const nodeInstallKind: TaskKind = {
  name: NODE_TASK_KINDS.install,
  validatePayload(p) {
    const o = object(p, 'payload');
    string(o.installId, 'installId');
    string(o.siteId, 'siteId');
    return { ...o, node: validateNode(o.node) };
  },
  storeItems(db, agentId, items) {
    ensureNodeSchema(db);
    for (const raw of items) {
      const item = object(raw, 'item');
      if (item.type === 'installed') {
        storeOutcome(db, item);
        continue;
      }
      const installId = string(item.installId, 'item.installId');
      const csr = string(item.csr, 'item.csr');
      if (!findInstall(db, installId)) throw new ProtocolError(`no installation ${installId}`);
      updateInstall(db, installId, { state: 'signing', csr });
      setImmediate(() => void signAndQueue(db, agentId, installId, csr));
    }
    return items.length;
  },
  summarise: (db, taskId) => ({ csrs: countItems(db, taskId) }),
};

async function signAndQueue(
  db: Db,
  agentId: string,
  installId: string,
  csr: string,
): Promise<void> {
  try {
    const install = findInstall(db, installId)!;
    const node = findNode(db, install.node_name)!;
    const subject = install.subject
      ? (JSON.parse(install.subject) as { commonName: string; altNames: string[] })
      : undefined;
    const payload: NodeInstallPayload = {
      installId,
      node: JSON.parse(node.spec) as NodeSpec,
      siteId: install.site_id,
      subject,
    };
    const ca = await loadOrCreateCa(path.dirname(db.name));
    const certificate = await signServerCsr(ca, csr, subject ?? null, SERVER_CERT_DAYS);
    const finish: NodeInstallFinishPayload = { ...payload, certificate, chain: [ca.certPem] };
    // Together or not at all: a crash in between must not leave a `signing` row whose
    // certificate is already queued (resumeSignings would queue it twice).
    db.transaction(() => {
      addTask(db, agentId, NODE_TASK_KINDS.finish, finish);
      updateInstall(db, installId, { state: 'placing' });
    })();
  } catch (err) {
    updateInstall(db, installId, {
      state: 'failed',
      error: `the CA refused the request: ${(err as Error).message}`,
    });
  }
}

/**
 * Signs the CSRs a previous server process stored but did not sign (it stopped or died
 * between the two steps). A row from before the CSR was kept cannot be signed: it fails
 * with what to do. Returns how many were resumed (signed or failed).
 */
export async function resumeSignings(db: Db): Promise<number> {
  const stuck = listInstalls(db).filter((i) => i.state === 'signing');
  for (const install of stuck) {
    const node = findNode(db, install.node_name);
    if (!install.csr || !node) {
      updateInstall(db, install.id, {
        state: 'failed',
        error:
          `the server stopped before signing and ` +
          `${node ? 'kept no CSR' : `node ${install.node_name} is gone`}; run "install add" again`,
      });
      continue;
    }
    await signAndQueue(db, node.agent_id, install.id, install.csr);
  }
  return stuck.length;
}

export const nodeInstallFinishKind: TaskKind = {
  name: NODE_TASK_KINDS.finish,
  validatePayload: (p) => p,
  storeItems(db, _agentId, items) {
    for (const raw of items) storeOutcome(db, object(raw, 'item'));
    return items.length;
  },
  summarise: (db, taskId) => ({ results: countItems(db, taskId) }),
};

function storeOutcome(db: Db, item: Record<string, unknown>): void {
  const result = object(item.result, 'item.result');
  const installId = string(item.installId, 'item.installId');
  const error = result.error as { step?: string; message?: string } | undefined;
  updateInstall(db, installId, {
    state: result.status === 'installed' ? 'installed' : 'failed',
    fingerprint: (result.fingerprint as string | null) ?? null,
    not_after: result.notAfter ? new Date(result.notAfter as string).toISOString() : null,
    error: error ? `${error.step}: ${error.message}` : null,
    result: JSON.stringify(result),
  });
}

export const NODE_KINDS = [nodeDiscoveryKind, nodeInstallKind, nodeInstallFinishKind];
