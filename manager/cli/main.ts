import type { Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import { addAgentsCommand } from './commands/agents.ts';
import { addCertsCommand } from './commands/certs.ts';
import { addDiscoveryCommand } from './commands/discovery.ts';
import { addServeCommand } from './commands/serve.ts';
import { addTasksCommand } from './commands/tasks.ts';
import { addUpdatesCommand } from '../updates/updates-command.ts';
import { UsageError } from './errors.ts';
import { addInstallCommands } from '../nodes/installs-command.ts';
import { addNodesCommand } from '../nodes/nodes-command.ts';

export interface ManagerIo {
  stdout: Writable;
  stderr: Writable;
}

/**
 * Every verb of certagent-manager, one file each under commands/. A new verb (nodes,
 * installs, hold-at-version, ...) exports `addXCommand(program, io)` and is added here;
 * verbs that queue work use store/tasks.ts `addTask` with a kind registered in
 * tasks/builtin-kinds.ts.
 */
const VERBS: Array<(program: Command, io: ManagerIo) => void> = [
  addServeCommand,
  addAgentsCommand,
  addDiscoveryCommand,
  addTasksCommand,
  addCertsCommand,
  addUpdatesCommand,
  addNodesCommand,
  addInstallCommands,
];

function buildProgram(io: ManagerIo): Command {
  const program = new Command('certagent-manager')
    .description('certagent reference management server')
    .showHelpAfterError('(run with --help for usage)');
  for (const add of VERBS) add(program, io);
  configure(program, io);
  return program;
}

// Every (sub)command throws instead of exiting, so main() owns the exit code.
function configure(cmd: Command, io: ManagerIo): void {
  cmd
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  for (const sub of cmd.commands) configure(sub, io);
}

/** Runs one command line; resolves to the exit code (0, 1 or 2). */
export async function main(argv: string[], io: ManagerIo = process): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code)
        ? 0
        : 2;
    }
    io.stderr.write(`certagent-manager: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.CERTAGENT_DEBUG && err instanceof Error) io.stderr.write(`${err.stack}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
