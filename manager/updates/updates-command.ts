import type { Command } from 'commander';
import { TASK_KINDS } from '../../protocol/tasks.ts';
import { findAgentByName, listAgents } from '../store/agents.ts';
import { addTask } from '../store/tasks.ts';
import { openDataDir } from '../cli/data-dir.ts';
import { UsageError } from '../cli/errors.ts';
import type { ManagerIo } from '../cli/main.ts';
import { printTable } from '../cli/table.ts';
import { updateHoldKind } from './hold-kind.ts';
import { listHolds, requestHold } from './hold-store.ts';

/** `certagent-manager updates hold|release|list`: hold agents at their version. */
export function addUpdatesCommand(program: Command, io: ManagerIo): void {
  const updates = program
    .command('updates')
    .description("hold agents at a version and see each agent's version");

  updates
    .command('hold')
    .description('keep an agent at a version: its auto-update installs nothing else')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .requiredOption('--agent <name>', 'agent to hold')
    .requiredOption('--version <v>', 'version to stay at (normally the one it runs)')
    .action((opts: { data: string; agent: string; version: string }) =>
      queueHold(io, opts.data, opts.agent, opts.version),
    );

  updates
    .command('release')
    .description('let an agent update itself again')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .requiredOption('--agent <name>', 'agent to release')
    .action((opts: { data: string; agent: string }) => queueHold(io, opts.data, opts.agent, null));

  updates
    .command('list')
    .description('agents with their version, the hold requested and what the agent confirmed')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .option('--json', 'print as JSON')
    .action((opts: { data: string; json?: boolean }) => {
      const db = openDataDir(opts.data);
      const holds = listHolds(db);
      const rows = listAgents(db).map((a) => {
        const h = holds.get(a.id);
        return {
          name: a.name,
          version: a.version,
          held: h?.requested ?? null,
          confirmed: h?.confirmed ?? null,
        };
      });
      db.close();
      if (opts.json) return void io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      printTable(
        io.stdout,
        ['NAME', 'VERSION', 'HELD AT', 'AGENT CONFIRMED'],
        rows.map((r) => [r.name, r.version ?? '-', r.held ?? '-', r.confirmed ?? '-']),
      );
    });
}

function queueHold(io: ManagerIo, data: string, name: string, version: string | null): void {
  let payload: unknown;
  try {
    payload = updateHoldKind.validatePayload({ version });
  } catch {
    throw new UsageError(`--version "${version}" is not a version like 1.2.3`);
  }
  const db = openDataDir(data);
  try {
    const agent = findAgentByName(db, name);
    if (!agent)
      throw new UsageError(`no agent named "${name}"; see "certagent-manager agents list"`);
    requestHold(db, agent.id, version);
    const task = addTask(db, agent.id, TASK_KINDS.updateHold, payload);
    const what = version ? `hold at ${version}` : 'release of the hold';
    io.stdout.write(`${what} queued for ${agent.name} (task ${task.id})\n`);
  } finally {
    db.close();
  }
}
