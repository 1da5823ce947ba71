import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

export function addRegisterCommand(program: Command, ctx: CliContext): void {
  program
    .command('register')
    .description('register this agent once with the management server using an installation token')
    .option(
      '--token <token>',
      'one-time installation token (or env CERTAGENT_TOKEN, which keeps it out of ps)',
    )
    .requiredOption('--server <url>', 'management server URL, e.g. https://manager.example:8443')
    .option(
      '--ca <file>',
      "PEM file with the CA of the manager's server certificate (default: SSL_CERT_FILE, then system roots)",
    )
    .option('--force', 'register again even though an identity exists (needs a new token)')
    .action(async (opts: { token?: string; server: string; ca?: string; force?: boolean }) => {
      // No commander default from the env: help output would print the token.
      const token = opts.token ?? process.env.CERTAGENT_TOKEN;
      if (!token) throw new UsageError('--token is required (or set CERTAGENT_TOKEN)');
      const { agentFiles } = await import('../../config/agent-files.ts');
      const { createLogger } = await import('../../logging/logger.ts');
      const { registerAgent } = await import('../../registration/register-agent.ts');
      const paths = ctx.paths();
      const log = createLogger({ logDir: paths.logs, name: 'agent' });
      const answer = await registerAgent(
        agentFiles(paths),
        { token, server: opts.server, caFile: opts.ca, force: opts.force },
        log,
      );
      ctx.stdout.write(`registered as ${answer.name} (${answer.agentId}) with ${opts.server}\n`);
    });
}
