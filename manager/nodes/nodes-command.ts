import fs from 'node:fs';
import type { Command } from 'commander';
import {
  NODE_TASK_KINDS,
  type NodeConnectionKind,
  type NodeSpec,
} from '../../protocol/node-tasks.ts';
import { openDataDir } from '../cli/data-dir.ts';
import { UsageError } from '../cli/errors.ts';
import type { ManagerIo } from '../cli/main.ts';
import { printTable } from '../cli/table.ts';
import { findAgentById, findAgentByName } from '../store/agents.ts';
import { addTask } from '../store/tasks.ts';
import { addNode, findNode, listNodes, listSites } from './node-store.ts';
import { nodeDiscoveryKind } from './node-kinds.ts';

const KINDS: NodeConnectionKind[] = ['local', 'ssh', 'winrm', 'rest'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

interface AddOptions {
  data: string;
  agent: string;
  name: string;
  connection: string;
  host: string;
  port?: string;
  credstore?: string;
  secret?: string;
  command?: string[];
  winrmAuth?: string;
  https?: boolean;
  caFile?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `nodes add | list | discover | sites`: the machines an agent installs certificates on. */
export function addNodesCommand(program: Command, io: ManagerIo): void {
  const nodes = program
    .command('nodes')
    .description('machines an agent discovers sites on and installs to');

  nodes
    .command('add')
    .description(
      "add a node reached by an agent (credentials stay in the agent's credential store)",
    )
    .requiredOption('--data <dir>', 'data directory of the manager')
    .requiredOption('--agent <name>', 'agent that reaches the node')
    .requiredOption('--name <name>', 'node name')
    .requiredOption('--connection <kind>', 'local, ssh, winrm or rest')
    .option('--host <host>', 'host name or address (default localhost for local)')
    .option('--port <port>', 'port (default: ssh 22, winrm 5985/5986, rest 443)')
    .option('--credstore <store>', 'credential store on the agent (e.g. local-store)')
    .option('--secret <ref>', 'secret reference in that store')
    .option(
      '--command <server=prefix>',
      'command prefix for a server, e.g. nginx="nginx -c /srv/nginx.conf" (repeatable)',
      collect,
    )
    .option('--winrm-auth <scheme>', 'winrm: ntlm (default) or basic')
    .option('--https', 'winrm: use HTTPS (5986)')
    .option('--ca-file <file>', "PEM the node's management interface presents (rest, winrm https)")
    .option('--json', 'print as JSON')
    .action((opts: AddOptions & { json?: boolean }) => {
      const spec = nodeSpec(opts);
      const db = openDataDir(opts.data);
      try {
        const agent = findAgentByName(db, opts.agent);
        if (!agent)
          throw new UsageError(
            `no agent named "${opts.agent}"; see "certagent-manager agents list"`,
          );
        if (findNode(db, spec.name))
          throw new UsageError(`a node named "${spec.name}" exists already`);
        const row = addNode(db, agent.id, spec);
        if (opts.json)
          io.stdout.write(`${JSON.stringify({ id: row.id, ...spec, agent: agent.name })}\n`);
        else
          io.stdout.write(
            `node ${spec.name} (${spec.connection} ${spec.host}) added for agent ${agent.name}\n`,
          );
      } finally {
        db.close();
      }
    });

  nodes
    .command('list')
    .description('list nodes, their connection and the sites last discovered')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .option('--json', 'print as JSON')
    .action((opts: { data: string; json?: boolean }) => {
      const db = openDataDir(opts.data);
      try {
        const rows = listNodes(db).map((n) => {
          const spec = JSON.parse(n.spec) as NodeSpec;
          return {
            ...spec,
            agent: findAgentById(db, n.agent_id)?.name ?? n.agent_id,
            sites: listSites(db, n.name),
          };
        });
        if (opts.json) return void io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        printTable(
          io.stdout,
          ['NAME', 'AGENT', 'CONNECTION', 'HOST', 'PORT', 'SITES'],
          rows.map((r) => [
            r.name,
            r.agent,
            r.connection,
            r.host,
            String(r.port ?? '-'),
            r.sites.map((s) => String(s.id)).join(' '),
          ]),
        );
      } finally {
        db.close();
      }
    });

  nodes
    .command('discover')
    .description('queue a discovery of the TLS sites a node serves')
    .requiredOption('--data <dir>', 'data directory of the manager')
    .requiredOption('--node <name>', 'node name')
    .option('--json', 'print the task as JSON')
    .action((opts: { data: string; node: string; json?: boolean }) => {
      const db = openDataDir(opts.data);
      try {
        const node = findNode(db, opts.node);
        if (!node)
          throw new UsageError(`no node named "${opts.node}"; see "certagent-manager nodes list"`);
        const payload = nodeDiscoveryKind.validatePayload({ node: JSON.parse(node.spec) });
        const task = addTask(db, node.agent_id, NODE_TASK_KINDS.discover, payload);
        if (opts.json)
          io.stdout.write(
            `${JSON.stringify({ id: task.id, node: opts.node, state: task.state })}\n`,
          );
        else io.stdout.write(`node discovery task ${task.id} queued for ${opts.node}\n`);
      } finally {
        db.close();
      }
    });
}

function nodeSpec(opts: AddOptions): NodeSpec {
  if (!NAME.test(opts.name))
    throw new UsageError(
      `--name "${opts.name}" is not valid: use letters, digits, dot, underscore or dash`,
    );
  if (!KINDS.includes(opts.connection as NodeConnectionKind)) {
    throw new UsageError(
      `--connection must be one of ${KINDS.join(', ')}, not "${opts.connection}"`,
    );
  }
  const connection = opts.connection as NodeConnectionKind;
  const host = opts.host ?? (connection === 'local' ? 'localhost' : undefined);
  if (!host) throw new UsageError(`--host is required for a ${connection} node`);
  if (connection !== 'local' && (!opts.credstore || !opts.secret)) {
    throw new UsageError(
      `a ${connection} node needs --credstore and --secret: ` +
        `logins come from the agent's credential store`,
    );
  }
  const port = opts.port === undefined ? undefined : Number(opts.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new UsageError(`--port "${opts.port}" is not a port between 1 and 65535`);
  }
  if (opts.winrmAuth && !['ntlm', 'basic'].includes(opts.winrmAuth))
    throw new UsageError('--winrm-auth must be ntlm or basic');
  return {
    name: opts.name,
    connection,
    host,
    port,
    credstore: opts.credstore,
    secret: opts.secret,
    commands: opts.command ? Object.fromEntries(opts.command.map(parseCommand)) : undefined,
    winrmAuth: opts.winrmAuth as NodeSpec['winrmAuth'],
    https: opts.https,
    ca: opts.caFile ? readCa(opts.caFile) : undefined,
  };
}

function parseCommand(value: string): [string, string[]] {
  const m = /^(nginx|apache)=(.+)$/.exec(value);
  if (!m) throw new UsageError(`--command "${value}" must be nginx=PREFIX or apache=PREFIX`);
  return [m[1]!, m[2]!.trim().split(/\s+/)];
}

function readCa(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --ca-file ${file}: ${(err as Error).message}`);
  }
}
