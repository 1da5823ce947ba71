import path from 'node:path';
import type { Command } from 'commander';
import { HostKeyPins } from '../../connections/host-key-pins.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

function parseTarget(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(value);
  const port = Number(m?.[3] ?? 22);
  if (!m || port < 1 || port > 65535) {
    throw new UsageError(
      `"${value}" is not HOST or HOST:PORT (e.g. web01:22 or [2001:db8::5]:2222)`,
    );
  }
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * `host-keys list | forget HOST[:PORT]`: the SSH host keys pinned on first use. Forgetting
 * one is how an operator accepts a node's new key after checking it with its administrator.
 */
export function addHostKeysCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('host-keys')
    .description('SSH host keys of nodes, pinned on first use');
  const pins = () => new HostKeyPins(path.join(ctx.paths().conf, 'known-nodes.json'));

  cmd
    .command('list')
    .description('list pinned host keys (host:port and SHA-256 fingerprint)')
    .action(() => {
      const all = pins().list();
      const lines = Object.entries(all).map(([target, fp]) => `${target}  ${fp}\n`);
      ctx.stdout.write(lines.length ? lines.join('') : 'no host key pinned yet\n');
    });

  cmd
    .command('forget')
    .description(
      'forget the pinned key of HOST[:PORT]; the next connection pins the key it is offered',
    )
    .argument('<host[:port]>', 'node address, port 22 when omitted')
    .action((target: string) => {
      const { host, port } = parseTarget(target);
      const store = pins();
      const old = store.lookup(host, port);
      if (!old)
        throw new UsageError(`no host key is pinned for ${host}:${port}; see "host-keys list"`);
      store.forget(host, port);
      ctx.stdout.write(`forgot ${old} for ${host}:${port}\n`);
    });
}
