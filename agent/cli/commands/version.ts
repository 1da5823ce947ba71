import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { buildIdentity } from '../../version.ts';

export function addVersionCommand(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('print the version and build identity')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const id = buildIdentity();
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(id)}\n`);
        return;
      }
      ctx.stdout.write(
        `${id.name} ${id.version} (commit ${id.commit}, node ${id.node}, ${id.platform})\n`,
      );
    });
}
