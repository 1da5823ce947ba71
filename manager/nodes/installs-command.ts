import type { Command } from 'commander';
import { NODE_TASK_KINDS, type NodeSpec } from '../../protocol/node-tasks.ts';
import { openDataDir } from '../cli/data-dir.ts';
import { UsageError } from '../cli/errors.ts';
import type { ManagerIo } from '../cli/main.ts';
import { printTable } from '../cli/table.ts';
import type { Db } from '../store/database.ts';
import { addTask } from '../store/tasks.ts';
import { addInstall, findNode, listInstalls, listSites, type InstallRow } from './node-store.ts';

function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

/** Queues the first task of an installation (key and CSR on the agent or the node). */
export function queueInstall(
  db: Db,
  nodeName: string,
  siteId: string,
  subject?: { commonName: string; altNames: string[] },
  renewalOf?: string,
): InstallRow {
  const node = findNode(db, nodeName);
  if (!node)
    throw new UsageError(`no node named "${nodeName}"; see "certagent-manager nodes list"`);
  const install = addInstall(db, nodeName, siteId, subject, renewalOf);
  addTask(db, node.agent_id, NODE_TASK_KINDS.install, {
    installId: install.id,
    node: JSON.parse(node.spec) as NodeSpec,
    siteId,
    subject,
  });
  return install;
}

/**
 * Queues renewal of every installed certificate that expires within `days`, unless a
 * renewal of it is already on its way. `serve` runs it every --renew-interval (node-jobs.ts);
 * `installs renew` runs it now.
 */
export function queueRenewals(
  db: Db,
  days: number,
  now = new Date(),
  options: { failedRetryMs?: number } = {},
): InstallRow[] {
  const limit = new Date(now.getTime() + days * 86_400_000).toISOString();
  const all = listInstalls(db);
  // A renewal on its way, or (for the periodic job) one that failed recently, holds back
  // another: a node that keeps failing gets one attempt per failedRetryMs, not per tick.
  const retryAfter = new Date(now.getTime() - (options.failedRetryMs ?? 0)).toISOString();
  const held = new Set(
    all
      .filter(
        (i) =>
          i.renewal_of &&
          (!['installed', 'failed'].includes(i.state) ||
            (i.state === 'failed' && i.updated_at > retryAfter)),
      )
      .map((i) => i.renewal_of),
  );
  const latest = new Map<string, InstallRow>();
  for (const i of all) if (i.state === 'installed') latest.set(`${i.node_name}\0${i.site_id}`, i);
  return [...latest.values()]
    .filter((i) => i.not_after && i.not_after <= limit && !held.has(i.id))
    .map((i) =>
      queueInstall(db, i.node_name, i.site_id, i.subject ? JSON.parse(i.subject) : undefined, i.id),
    );
}

/** `install add` and `installs list | renew`. */
export function addInstallCommands(program: Command, io: ManagerIo): void {
  program
    .command('install')
    .description('certificate installation on a node')
    .command('add')
    .description(
      "queue installation of a new certificate from the manager's CA on a discovered site",
    )
    .requiredOption('--data <dir>', 'data directory of the manager')
    .requiredOption('--node <name>', 'node name')
    .requiredOption('--site <id>', 'site id from "nodes list" (e.g. nginx:shop.example.com:443)')
    .option('--subject <cn>', "common name (default: the site's first server name)")
    .option('--san <names>', 'subject alternative names, comma-separated (repeatable)', collect)
    .option('--json', 'print as JSON')
    .action(
      (opts: {
        data: string;
        node: string;
        site: string;
        subject?: string;
        san?: string[];
        json?: boolean;
      }) => {
        const db = openDataDir(opts.data);
        try {
          const known = listSites(db, opts.node).map((s) => String(s.id));
          if (known.length && !known.includes(opts.site)) {
            throw new UsageError(
              `node ${opts.node} has no site "${opts.site}"; discovered: ${known.join(', ')}`,
            );
          }
          if (opts.san && !opts.subject) throw new UsageError('--san needs --subject');
          const subject = opts.subject
            ? { commonName: opts.subject, altNames: opts.san ?? [] }
            : undefined;
          const install = queueInstall(db, opts.node, opts.site, subject);
          if (opts.json)
            io.stdout.write(
              JSON.stringify({
                id: install.id,
                node: opts.node,
                site: opts.site,
                state: install.state,
              }) + '\n',
            );
          else
            io.stdout.write(`installation ${install.id} queued for ${opts.site} on ${opts.node}\n`);
        } finally {
          db.close();
        }
      },
    );

  const installs = program
    .command('installs')
    .description('certificate installations and renewals');

  installs
    .command('list')
    .description('list installations with their state, new fingerprint and error')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .option('--json', 'print as JSON')
    .action((opts: { data: string; json?: boolean }) => {
      const db = openDataDir(opts.data);
      try {
        const rows = listInstalls(db).map((i) => ({
          id: i.id,
          node: i.node_name,
          site: i.site_id,
          state: i.state,
          fingerprint: i.fingerprint,
          notAfter: i.not_after,
          error: i.error,
          renewalOf: i.renewal_of,
          updatedAt: i.updated_at,
        }));
        if (opts.json) return void io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        printTable(
          io.stdout,
          ['ID', 'NODE', 'SITE', 'STATE', 'FINGERPRINT', 'NOT AFTER', 'ERROR'],
          rows.map((r) => [
            r.id,
            r.node,
            r.site,
            r.state,
            r.fingerprint ?? '',
            r.notAfter ?? '',
            r.error ?? '',
          ]),
        );
      } finally {
        db.close();
      }
    });

  installs
    .command('renew')
    .description(
      'queue renewal of installed certificates expiring ' +
        'within --days now (serve does it every --renew-interval)',
    )
    .requiredOption('--data <dir>', 'data directory of the manager')
    .option('--days <n>', 'renew this many days before expiry', '30')
    .action((opts: { data: string; days: string }) => {
      const days = Number(opts.days);
      if (!Number.isInteger(days) || days < 1)
        throw new UsageError(`--days must be a positive integer, not "${opts.days}"`);
      const db = openDataDir(opts.data);
      try {
        const queued = queueRenewals(db, days);
        io.stdout.write(`${queued.length} renewal(s) queued\n`);
      } finally {
        db.close();
      }
    });
}
