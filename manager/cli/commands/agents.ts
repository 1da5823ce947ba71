import type { Command } from 'commander';
import { addAgent, DuplicateAgentError, listAgents } from '../../store/agents.ts';
import { openDataDir } from '../data-dir.ts';
import { UsageError } from '../errors.ts';
import type { ManagerIo } from '../main.ts';
import { printTable } from '../table.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function addAgentsCommand(program: Command, io: ManagerIo): void {
  const agents = program.command('agents').description('add and list agents');

  agents
    .command('add')
    .description('add an agent and print its one-time installation token (status Pending)')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .requiredOption('--name <name>', 'agent name (letters, digits, . _ -)')
    .option('--org <org>', 'organisation')
    .option('--dept <dept>', 'department')
    .option('--json', 'print as JSON')
    .action((opts: { data: string; name: string; org?: string; dept?: string; json?: boolean }) => {
      if (!NAME.test(opts.name)) {
        throw new UsageError(
          `--name "${opts.name}" is not valid: use 1-63 letters, digits, dot, underscore or dash`,
        );
      }
      // Adding an agent before the first `serve` is fine: the data directory is created.
      const db = openDataDir(opts.data, true);
      try {
        const { agent, token } = addAgent(db, opts);
        if (opts.json) {
          io.stdout.write(
            `${JSON.stringify({ name: agent.name, id: agent.id, status: 'Pending', token })}\n`,
          );
        } else {
          io.stdout.write(`agent ${agent.name} (${agent.id}) added, status Pending\n`);
          io.stdout.write(
            `installation token (shown once, valid for one registration):\n${token}\n`,
          );
        }
      } catch (err) {
        if (err instanceof DuplicateAgentError)
          throw new UsageError(`${err.message}; choose another --name`);
        throw err;
      } finally {
        db.close();
      }
    });

  agents
    .command('list')
    .description('list agents with status Pending, Connected or Disconnected')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .option('--json', 'print as JSON')
    .action((opts: { data: string; json?: boolean }) => {
      const db = openDataDir(opts.data);
      const rows = listAgents(db);
      db.close();
      if (opts.json) return void io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      printTable(
        io.stdout,
        ['NAME', 'ID', 'STATUS', 'VERSION', 'LAST SEEN'],
        rows.map((a) => [a.name, a.id, a.status, a.version ?? '-', a.lastSeen ?? '-']),
      );
    });
}
