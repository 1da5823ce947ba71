import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { OperationalError, UsageError } from '../errors.ts';
import { autoUpdateEffective, selfUpdating } from '../../updater/auto-update-setting.ts';
import { externalUpdater } from '../../updater/install-layout.ts';
import { loadUpdateState } from '../../updater/update-state.ts';
import { describeOutcome, runUpdate } from '../../updater/updater.ts';
import { updaterFor } from '../../updater/updater-setup.ts';

interface UpdateOptions {
  check?: boolean;
  now?: boolean;
  status?: boolean;
  source?: string;
  installRoot?: string;
}

export function addUpdateCommand(program: Command, ctx: CliContext): void {
  program
    .command('update')
    .description('check for, or install, a signed agent update from the distribution host')
    .option('--check', 'say whether an update is available, change nothing (the default)')
    .option('--now', 'download, verify and install the update now (restarts the service)')
    .option('--status', 'show auto-update, the last check, its result and the next check')
    .option('--source <url>', 'distribution host (default: env CERTAGENT_DIST_URL, or built in)')
    .option(
      '--install-root <dir>',
      'program directory (default /opt/certagent; env CERTAGENT_PROGRAM_DIR)',
    )
    .action(async (opts: UpdateOptions) => {
      const chosen = [opts.check, opts.now, opts.status].filter(Boolean).length;
      if (chosen > 1) throw new UsageError('give one of --check, --now or --status');

      const setup = await updaterFor(ctx.paths(), opts);
      if (opts.status) return void ctx.stdout.write(await renderStatus(setup));

      if (!selfUpdating(setup.kind)) {
        throw new OperationalError(
          `this agent is a ${setup.kind} install (${setup.options.layout.kindFile}); it does not ` +
            `update itself, use ${externalUpdater(setup.kind)}`,
          'update.not-self-updating',
        );
      }
      const outcome = await runUpdate(setup.options, Boolean(opts.now));
      ctx.stdout.write(`${describeOutcome(outcome)}\n`);
    });
}

async function renderStatus(setup: Awaited<ReturnType<typeof updaterFor>>): Promise<string> {
  const state = await loadUpdateState(setup.options.stateFile);
  const on = autoUpdateEffective(setup.config.autoUpdate, setup.kind);
  const why = selfUpdating(setup.kind)
    ? `certagent-config set auto-update ${on ? 'off' : 'on'} to change`
    : `${setup.kind} install, updated by ${externalUpdater(setup.kind)}`;
  return [
    `installed:    ${setup.options.installedVersion} (${setup.kind} install)`,
    `auto-update:  ${on ? 'on' : 'off'} (${why})`,
    `source:       ${setup.options.source}`,
    `last check:   ${state.lastCheck ?? 'never'}`,
    `last result:  ${state.lastResult ?? '-'}${state.lastOk === false ? ' [FAILED]' : ''}`,
    `next check:   ${on ? (state.nextCheck ?? 'when the service starts') : '-'}`,
    ...(state.badVersions.length
      ? [`skipped:      ${state.badVersions.join(', ')} (failed to start)`]
      : []),
    '',
  ].join('\n');
}
