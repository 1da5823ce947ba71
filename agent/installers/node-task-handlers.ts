import fs from 'node:fs';
import path from 'node:path';
import type { TaskMessage } from '../../protocol/messages.ts';
import {
  NODE_TASK_KINDS,
  type NodeInstallFinishPayload,
  type NodeInstallPayload,
  type NodeResultItem,
  type NodeSpec,
} from '../../protocol/node-tasks.ts';
import { closeNode, openNode, type NodeHandle } from '../connections/open-node.ts';
import { discoverSites } from '../nodes/discover-sites.ts';
import { discoverF5Sites } from '../nodes/f5-sites.ts';
import { IIS_DISCOVER_SCRIPT, iisSites } from '../nodes/iis-bindings.ts';
import { serverControl } from '../nodes/server-control.ts';
import type { Site } from '../nodes/site.ts';
import { defaultSubject, installOnFileServer } from '../installers/file-installer.ts';
import { installOnF5 } from './f5-installer.ts';
import { installOnIis, requestIisCsr } from './iis-installer.ts';
import { StepError, type InstallResult } from './install-result.ts';
import { createKeyRequest, type CertificateSubject } from './key-request.ts';
import type { CertificateSigner } from './signer.ts';
import type { TaskRunContext } from '../service/task-handlers.ts';

// The service's context: its own conf directory (as started, --base-dir included) and
// its pool of open credential stores.
type Ctx = TaskRunContext;

function pendingKeyFile(ctx: Ctx, installId: string): string {
  if (!/^[0-9a-f-]{36}$/i.test(installId))
    throw new Error(`installation id "${installId}" is not a UUID`);
  return path.join(ctx.paths.conf, 'pending-keys', `${installId}.key`);
}

async function withNode<T>(
  spec: NodeSpec,
  ctx: Ctx,
  fn: (node: NodeHandle) => Promise<T>,
): Promise<T> {
  const node = await openNode(spec, { confDir: ctx.paths.conf, stores: ctx.stores });
  try {
    return await fn(node);
  } finally {
    await closeNode(node);
  }
}

async function sitesOf(node: NodeHandle, spec: NodeSpec): Promise<Site[]> {
  if (node.kind === 'rest') return discoverF5Sites(node.client);
  if (node.kind === 'winrm') {
    const r = await node.conn.runPowerShell(IIS_DISCOVER_SCRIPT);
    if (r.exitCode !== 0)
      throw new Error(
        `IIS discovery on ${node.conn.label} failed: ${r.stderr.trim().slice(0, 300)}`,
      );
    return iisSites(r.stdout);
  }
  return discoverSites(node.conn, { commands: spec.commands, sudo: node.sudo });
}

async function findSite(node: NodeHandle, spec: NodeSpec, siteId: string): Promise<Site> {
  const sites = await sitesOf(node, spec).catch((err: Error) => {
    throw new StepError('discover', err.message, { cause: err });
  });
  const site = sites.find((s) => s.id === siteId);
  if (!site) {
    throw new StepError(
      'discover',
      `node ${spec.name} serves no site "${siteId}" now; found: ` +
        `${sites.map((s) => s.id).join(', ') || 'none'}. Run "nodes discover" again`,
    );
  }
  return site;
}

/** node-discovery: every site of the node, one result item each. */
async function runNodeDiscovery(task: TaskMessage, ctx: Ctx): Promise<void> {
  const { node: spec } = task.payload as { node: NodeSpec };
  const sites = await withNode(spec, ctx, (node) => sitesOf(node, spec));
  const items: NodeResultItem[] = sites.map((site) => ({
    type: 'site',
    node: spec.name,
    site: { ...site },
  }));
  if (items.length) ctx.emit(items);
  ctx.log.info({ node: spec.name, sites: sites.length }, 'node discovered');
}

function subjectFor(site: Site, payload: NodeInstallPayload): CertificateSubject {
  if (payload.subject) return payload.subject;
  // A BIG-IP profile or an IIS binding without host header names no host to certify.
  if (site.server === 'f5' || (site.server === 'iis' && !site.binding?.information.split(':')[2])) {
    throw new StepError(
      'key-request',
      `site ${site.id} names no host; give "install add" a --subject`,
    );
  }
  return defaultSubject(site);
}

/** node-install: key and CSR (on the node for IIS); the key waits on the agent, 0600. */
async function runNodeInstall(task: TaskMessage, ctx: Ctx): Promise<void> {
  const p = task.payload as NodeInstallPayload;
  try {
    const csr = await withNode(p.node, ctx, async (node) => {
      const site = await findSite(node, p.node, p.siteId);
      const subject = subjectFor(site, p);
      if (node.kind === 'winrm') return requestIisCsr(node.conn, subject);
      const { keyPem, csrPem } = await createKeyRequest(subject);
      const file = pendingKeyFile(ctx, p.installId);
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, keyPem, { mode: 0o600 });
      return csrPem;
    });
    ctx.emit([{ type: 'csr', installId: p.installId, csr } satisfies NodeResultItem]);
  } catch (err) {
    const step = err instanceof StepError ? err.step : 'key-request';
    const result: Partial<InstallResult> = {
      siteId: p.siteId,
      status: 'failed',
      fingerprint: null,
      error: { step, message: (err as Error).message, rolledBack: true },
    };
    ctx.emit([{ type: 'installed', installId: p.installId, result } satisfies NodeResultItem]);
  }
}

/** node-install-finish: the signed certificate goes in place with the waiting key. */
async function runNodeInstallFinish(task: TaskMessage, ctx: Ctx): Promise<void> {
  const p = task.payload as NodeInstallFinishPayload;
  const signer: CertificateSigner = {
    sign: async () => ({ certificatePem: p.certificate, chainPem: p.chain }),
  };
  let result: InstallResult;
  try {
    result = await withNode(p.node, ctx, async (node) => {
      const site = await findSite(node, p.node, p.siteId);
      const subject = subjectFor(site, p);
      if (node.kind === 'winrm')
        return installOnIis({
          conn: node.conn,
          site,
          signer,
          subject,
          // The node made the CSR in the first task and the CA already signed it; the
          // fixed signer ignores this value, which only skips a second certreq -new.
          csrPem: 'issued',
          logger: ctx.log,
        });
      const keyRequest = {
        keyPem: fs.readFileSync(pendingKeyFile(ctx, p.installId), 'utf8'),
        csrPem: '',
      };
      if (node.kind === 'rest')
        return installOnF5({
          client: node.client,
          site,
          signer,
          subject,
          keyRequest,
          logger: ctx.log,
        });
      const control = serverControl(site.server, p.node.commands?.[site.server]);
      return installOnFileServer({
        conn: node.conn,
        site,
        control,
        signer,
        subject,
        keyRequest,
        nodeHost: p.node.host,
        sudo: node.sudo,
        logger: ctx.log,
      });
    });
  } catch (err) {
    result = {
      siteId: p.siteId,
      status: 'failed',
      fingerprint: null,
      previousFingerprint: null,
      backups: [],
      error: {
        step: err instanceof StepError ? err.step : 'discover',
        message: (err as Error).message,
        rolledBack: true,
      },
    };
  } finally {
    fs.rmSync(pendingKeyFile(ctx, p.installId), { force: true });
  }
  ctx.emit([
    { type: 'installed', installId: p.installId, result: { ...result } } satisfies NodeResultItem,
  ]);
}

/** The agent-side handlers of the node task kinds, for agent/service/task-handlers.ts. */
export const NODE_TASK_HANDLERS: Array<[string, (task: TaskMessage, ctx: Ctx) => Promise<void>]> = [
  [NODE_TASK_KINDS.discover, runNodeDiscovery],
  [NODE_TASK_KINDS.install, runNodeInstall],
  [NODE_TASK_KINDS.finish, runNodeInstallFinish],
];
