import type { Command } from 'commander';
import { findAgentByName } from '../../store/agents.ts';
import { listTasks } from '../../store/tasks.ts';
import { openDataDir } from '../data-dir.ts';
import { UsageError } from '../errors.ts';
import type { ManagerIo } from '../main.ts';
import { printTable } from '../table.ts';

export function addTasksCommand(program: Command, io: ManagerIo): void {
  const tasks = program.command('tasks').description('tasks of every kind and their state');

  tasks
    .command('list')
    .description('list tasks (queued, running, done, failed) with their result')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .option('--agent <name>', 'only this agent')
    .option('--json', 'print as JSON')
    .action((opts: { data: string; agent?: string; json?: boolean }) => {
      const db = openDataDir(opts.data);
      try {
        const agent = opts.agent ? findAgentByName(db, opts.agent) : undefined;
        if (opts.agent && !agent) throw new UsageError(`no agent named "${opts.agent}"`);
        const rows = listTasks(db, agent?.id).map((t) => ({
          id: t.id,
          agentId: t.agent_id,
          kind: t.kind,
          state: t.state,
          payload: JSON.parse(t.payload) as unknown,
          result: t.result ? (JSON.parse(t.result) as unknown) : null,
          error: t.error,
          updatedAt: t.updated_at,
        }));
        if (opts.json) return void io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        printTable(
          io.stdout,
          ['ID', 'KIND', 'STATE', 'UPDATED', 'ERROR'],
          rows.map((t) => [t.id, t.kind, t.state, t.updatedAt, t.error ?? '']),
        );
      } finally {
        db.close();
      }
    });
}
