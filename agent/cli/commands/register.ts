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
    .option(
      '--server <url>',
      'management server URL, e.g. https://manager.example:8443 (default: the configured server)',
    )
    .option(
      '--ca <file>',
      "PEM file with the CA of the manager's server " +
        'certificate (default: SSL_CERT_FILE, then system roots)',
    )
    .option('--force', 'register again even though an identity exists (needs a new token)')
    .action(async (opts: { token?: string; server?: string; ca?: string; force?: boolean }) => {
      // No commander default from the env: help output would print the token.
      const token = opts.token ?? process.env.CERTAGENT_TOKEN;
      if (!token) throw new UsageError('--token is required (or set CERTAGENT_TOKEN)');
      const { agentFiles } = await import('../../config/agent-files.ts');
      const { loadAgentConfig } = await import('../../config/agent-config.ts');
      const { createLogger } = await import('../../logging/logger.ts');
      const { registerAgent } = await import('../../registration/register-agent.ts');
      const paths = ctx.paths();
      const files = agentFiles(paths);

      // SPEC: --server is optional once the configuration names a server (the MSI's
      // PROPERTY_SERVER_URL, `config set server URL`, an earlier registration).
      const server = opts.server ?? loadAgentConfig(files.config).server;
      if (!server) {
        throw new UsageError(
          `no management server given and none configured in ${files.config}; ` +
            `pass --server https://HOST:PORT or run 'config set server URL'`,
        );
      }

      const log = createLogger({ logDir: paths.logs, name: 'agent' });
      const answer = await registerAgent(
        files,
        { token, server, caFile: opts.ca, force: opts.force },
        log,
      ).catch((err: unknown) => {
        // The log is where an unattended install (MSI, image) leaves its trace; the token is
        // cut out of the message in case a server echoed it back.
        const message = (err instanceof Error ? err.message : String(err)).split(token).join('***');
        log.error({ server, error: message }, 'registration failed');
        throw err;
      });
      ctx.stdout.write(`registered as ${answer.name} (${answer.agentId}) with ${server}\n`);
    });
}
