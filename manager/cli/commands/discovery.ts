import type { Command } from 'commander';
import {
  parsePorts as scanPorts,
  parseSni,
  parseTargets as scanTargets,
  ScanScopeError,
} from '../../../protocol/scan-scope.ts';
import { TASK_KINDS } from '../../../protocol/tasks.ts';
import { findAgentByName } from '../../store/agents.ts';
import { addTask } from '../../store/tasks.ts';
import { taskKind } from '../../tasks/kinds.ts';
import { openDataDir } from '../data-dir.ts';
import { UsageError } from '../errors.ts';
import type { ManagerIo } from '../main.ts';

export function addDiscoveryCommand(program: Command, io: ManagerIo): void {
  const discovery = program.command('discovery').description('queue certificate discovery tasks');

  discovery
    .command('add')
    .description('queue a discovery task for an agent')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .requiredOption('--agent <name>', 'agent that runs the scan')
    .requiredOption('--targets <list>', 'comma-separated host names, addresses, CIDR or a-b ranges')
    .requiredOption('--ports <list>', 'ports and ranges, e.g. 443,8443,9000-9010')
    .option('--sni <name>', 'server name to send instead of the target name')
    .option('--json', 'print the task as JSON')
    .action(
      (opts: {
        data: string;
        agent: string;
        targets: string;
        ports: string;
        sni?: string;
        json?: boolean;
      }) => {
        const payload = {
          targets: parseTargets(opts.targets),
          ports: parsePorts(opts.ports),
          sni: opts.sni === undefined ? undefined : checked(() => parseSni(opts.sni!)),
        };
        const db = openDataDir(opts.data);
        try {
          const agent = findAgentByName(db, opts.agent);
          if (!agent)
            throw new UsageError(
              `no agent named "${opts.agent}"; see "certagent-manager agents list"`,
            );
          const task = addTask(
            db,
            agent.id,
            TASK_KINDS.discovery,
            taskKind(TASK_KINDS.discovery)!.validatePayload(payload),
          );
          if (opts.json)
            io.stdout.write(
              `${JSON.stringify({ id: task.id, agent: agent.name, state: task.state })}\n`,
            );
          else io.stdout.write(`discovery task ${task.id} queued for ${agent.name}\n`);
        } finally {
          db.close();
        }
      },
    );
}

// The agent's own syntax (protocol/scan-scope.ts): a task the agent would reject is refused
// here, with the message `certagent discover` prints.
function checked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ScanScopeError) throw new UsageError(err.message);
    throw err;
  }
}

function parseTargets(value: string): string[] {
  const targets = value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  checked(() => scanTargets(targets));
  return targets;
}

function parsePorts(value: string): string {
  checked(() => scanPorts(value));
  return value.replace(/\s+/g, '');
}
