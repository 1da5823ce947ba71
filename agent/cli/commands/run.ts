import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { loadAgentConfig } from '../../config/agent-config.ts';
import { agentFiles } from '../../config/agent-files.ts';
import { OperationalError } from '../errors.ts';

export function addRunCommand(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description(
      'run the agent service: connect, heartbeat, take tasks, report (stops on SIGTERM/SIGINT)',
    )
    .action(async () => {
      const paths = ctx.paths();
      const files = agentFiles(paths);
      const config = loadAgentConfig(files.config);
      const { loadIdentity } = await import('../../registration/agent-identity.ts');
      const identity = loadIdentity(files);
      if (!identity || !config.server) {
        throw new OperationalError(
          `this agent is not registered (no identity in ${paths.conf}); run "certagent register --token T --server URL" first`,
          'not-registered',
        );
      }

      // The service's modules (undici, openpgp, credential stores) load only for `run`.
      const [
        { attachCredstoreHandlers },
        { storeDepsFor },
        { ControlServer },
        { createLogger },
        { AgentService },
        { createManagerDispatcher },
        { ManagerClient },
        { serverTrust },
        { startAutoUpdate },
      ] = await Promise.all([
        import('../../credstores/control-handlers.ts'),
        import('../../credstores/store-deps.ts'),
        import('../../control/control-server.ts'),
        import('../../logging/logger.ts'),
        import('../../service/agent-service.ts'),
        import('../../service/dispatcher.ts'),
        import('../../service/manager-client.ts'),
        import('../../service/server-trust.ts'),
        import('../../updater/updater-setup.ts'),
      ]);

      const log = createLogger({ logDir: paths.logs, name: 'agent' });
      const tls = { ca: serverTrust(files), cert: identity.cert, key: identity.key };
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
