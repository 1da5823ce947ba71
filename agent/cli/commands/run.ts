import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { loadAgentConfig } from '../../config/agent-config.ts';
import { agentFiles } from '../../config/agent-files.ts';
import { attachCredstoreHandlers } from '../../credstores/control-handlers.ts';
import { storeDepsFor } from '../../credstores/store-deps.ts';
import { ControlServer } from '../../control/control-server.ts';
import { createLogger } from '../../logging/logger.ts';
import { loadIdentity } from '../../registration/agent-identity.ts';
import { AgentService } from '../../service/agent-service.ts';
import { createManagerDispatcher } from '../../service/dispatcher.ts';
import { ManagerClient } from '../../service/manager-client.ts';
import { serverTrust } from '../../service/server-trust.ts';
import { startAutoUpdate } from '../../updater/updater-setup.ts';
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
      const identity = loadIdentity(files);
      if (!identity || !config.server) {
        throw new OperationalError(
          `this agent is not registered (no identity in ${paths.conf}); run "certagent register --token T --server URL" first`,
          'not-registered',
        );
      }

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
