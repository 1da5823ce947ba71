import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { loadAgentConfig, maskedConfig } from '../../config/agent-config.ts';
import { agentFiles } from '../../config/agent-files.ts';
import type { ServiceStatus } from '../../service/agent-service.ts';
import { buildIdentity } from '../../version.ts';
import type { UpdateSummary } from '../../updater/update-summary.ts';

export function addStatusCommand(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('registration, connection, version, auto-update and proxy (secrets masked)')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      // @peculiar/x509 and the updater's state are loaded only when status is asked for.
      const { loadIdentity } = await import('../../registration/agent-identity.ts');
      const { describeUpdates, updateSummary } = await import('../../updater/update-summary.ts');
      const paths = ctx.paths();
      const files = agentFiles(paths);
      const config = maskedConfig(loadAgentConfig(files.config));
      const registered = loadIdentity(files) !== undefined && !!config.server;
      const service = await askService(paths);

      const report = {
        version: buildIdentity().version,
        registered,
        server: config.server ?? null,
        agentId: config.agentId ?? null,
        agentName: config.agentName ?? null,
        service: service ?? { running: false },
        autoUpdate: config.autoUpdate,
        update: await updateSummary(paths, config.autoUpdate),
        proxy: config.proxy,
      };
      if (opts.json) return void ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      ctx.stdout.write(renderStatus(report, describeUpdates(report.update), service));
    });
}

async function askService(
  paths: ReturnType<CliContext['paths']>,
): Promise<(ServiceStatus & { running: true }) | undefined> {
  const { callControl, ServiceNotRunningError } = await import('../../control/control-client.ts');
  try {
    return { running: true, ...((await callControl(paths, 'service.status')) as ServiceStatus) };
  } catch (err) {
    if (err instanceof ServiceNotRunningError) return undefined;
    throw err;
  }
}

function renderStatus(
  r: {
    version: string;
    registered: boolean;
    server: string | null;
    agentName: string | null;
    agentId: string | null;
    autoUpdate: boolean;
    update: UpdateSummary;
    proxy: object;
  },
  updates: string,
  service?: ServiceStatus,
): string {
  const connection = !service
    ? 'service not running'
    : service.connected
      ? `connected to ${service.server} (last heartbeat ${service.lastHeartbeatAt}, ` +
        `${service.queuedBatches} result batches queued)`
      : `disconnected from ${service.server}: ${service.lastError ?? 'not yet connected'} ` +
        `(${service.queuedBatches} result batches queued)`;
  const proxy = Object.entries(r.proxy)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  const registration = r.registered
    ? `registered as ${r.agentName} (${r.agentId}) with ${r.server}`
    : 'not registered';
  return [
    `version:      ${r.version}`,
    `registration: ${registration}`,
    `connection:   ${connection}`,
    `auto-update:  ${r.autoUpdate ? 'on' : 'off'}`,
    `updates:      ${updates}`,
    `proxy:        ${proxy || 'none (direct)'}`,
    '',
  ].join('\n');
}
