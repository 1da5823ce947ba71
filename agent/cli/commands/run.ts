import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { CliContext } from '../context.ts';
import { loadAgentConfig } from '../../config/agent-config.ts';
import { agentFiles, type AgentFiles } from '../../config/agent-files.ts';
import type { ApplyOutcome } from '../../platform/windows-install.ts';
import { OperationalError } from '../errors.ts';

/** Applies what an installer left for the first start (proxy, auto-update, token). */
export type InstallerHandoff = (files: AgentFiles, log: Logger) => Promise<ApplyOutcome>;

/** The MSI's values in HKLM\SOFTWARE\certagent\Install; nothing to do off Windows. */
const windowsInstallHandoff: InstallerHandoff = async (files, log) => {
  if (process.platform !== 'win32') return 'nothing';
  const { applyWindowsInstallOnStart } = await import('../../platform/windows-install.ts');
  return applyWindowsInstallOnStart(files, log);
};

/** `installerHandoff` is replaceable so tests can give the MSI's values without a registry. */
export function addRunCommand(
  program: Command,
  ctx: CliContext,
  installerHandoff: InstallerHandoff = windowsInstallHandoff,
): void {
  program
    .command('run')
    .description(
      'run the agent service: connect, heartbeat, take tasks, report (stops on SIGTERM/SIGINT)',
    )
    .action(async () => {
      const paths = ctx.paths();
      const files = agentFiles(paths);
      const { createLogger } = await import('../../logging/logger.ts');
      const log = createLogger({ logDir: paths.logs, name: 'agent' });

      // Before the registration check: a fresh MSI install registers here with its token.
      const handoff = await installerHandoff(files, log);
      const config = loadAgentConfig(files.config);
      const { loadIdentity, assertIdentityReadable } = await import(
        '../../registration/agent-identity.ts'
      );
      const identity = loadIdentity(files);
      if (!identity || !config.server) {
        const why =
          handoff === 'registration-failed'
            ? `registration with the installer's token failed (see ` +
              `${paths.logs}); fix the cause and restart the service, or `
            : '';
        throw new OperationalError(
          `this agent is not registered (no identity in ${paths.conf}); ` +
            `${why}run "certagent register --token T [--server URL]" first`,
          'not-registered',
        );
      }
      assertIdentityReadable(files, identity);

      // The service's modules (undici, openpgp, credential stores) load only for `run`.
      const [
        { attachCredstoreHandlers },
        { storeDepsFor },
        { ControlServer },
        { AgentService },
        { createManagerDispatcher },
        { ManagerClient },
        { pinnedManagerTrust },
        { startAutoUpdate },
      ] = await Promise.all([
        import('../../credstores/control-handlers.ts'),
        import('../../credstores/store-deps.ts'),
        import('../../control/control-server.ts'),
        import('../../service/agent-service.ts'),
        import('../../service/dispatcher.ts'),
        import('../../service/manager-client.ts'),
        import('../../service/server-trust.ts'),
        import('../../updater/updater-setup.ts'),
      ]);

      // Pinned at registration: SSL_CERT_FILE and --ca only ever served the register call.
      const tls = { ca: pinnedManagerTrust(files), cert: identity.cert, key: identity.key };
      const client = new ManagerClient(
        config.server,
        createManagerDispatcher(config, tls, files.secretKey, log),
      );
      const service = new AgentService(client, files, config, log);
      const control = new ControlServer(files.controlSocket, log);
      service.attachControl(control);
      // `credstore list` and friends work against the running service.
      attachCredstoreHandlers(control, () => storeDepsFor(paths.conf, log));
      await control.listen();
      const updates = await startAutoUpdate(paths, log);

      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      try {
        await service.run(stop.signal);
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        updates?.stop();
        await control.close();
        await client.close();
      }
    });
}
