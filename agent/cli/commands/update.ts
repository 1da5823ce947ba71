import fs from 'node:fs';
import type { Command } from 'commander';
import semver from 'semver';
import type { CliContext } from '../context.ts';
import { OperationalError, UsageError } from '../errors.ts';
import { createLogger } from '../../logging/logger.ts';
import { autoUpdateEffective, selfUpdating } from '../../updater/auto-update-setting.ts';
import {
  defaultInstallRoot,
  externalUpdater,
  installLayout,
} from '../../updater/install-layout.ts';
import { runMsiexec } from '../../updater/msi-upgrade.ts';
import { watchMsiUpgrade } from '../../updater/msi-watch.ts';
import { APPLY_MSI_VERB } from '../../updater/msi-watcher-launch.ts';
import { statusHealthCheck } from '../../updater/service-health.ts';
import { loadUpdateState, updateStateFile } from '../../updater/update-state.ts';
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
  addApplyMsiUpdateCommand(program, ctx);
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

interface ApplyMsiOptions {
  msi: string;
  from: string;
  to: string;
  previousMsi?: string;
  installRoot?: string;
  timeout: string;
}

/**
 * The watcher of an MSI update, started by the updater from a copy of certagent.exe; not
 * listed in the main help, it is no operator command.
 */
export function addApplyMsiUpdateCommand(program: Command, ctx: CliContext): void {
  program
    .command(APPLY_MSI_VERB, { hidden: true })
    .description(
      'internal, started by "update": install a verified MSI, wait for the new version to ' +
        'run and connect, reinstall the previous MSI if it does not',
    )
    .requiredOption('--msi <file>', 'the verified MSI of the new version')
    .requiredOption('--from <version>', 'the version installed now')
    .requiredOption('--to <version>', 'the version the MSI installs')
    .option('--previous-msi <file>', 'the MSI of --from, reinstalled on failure')
    .option('--install-root <dir>', 'program folder (default %ProgramFiles%\\certagent)')
    .option('--timeout <seconds>', 'time the new version has to run and connect', '300')
    .action(async (opts: ApplyMsiOptions) => {
      const timeoutS = checkApplyOptions(opts);
      const paths = ctx.paths();
      const stateFile = updateStateFile(paths.conf);
      const layout = installLayout(opts.installRoot ?? defaultInstallRoot());
      const result = await watchMsiUpgrade({
        ...opts,
        baseDir: paths.base,
        stateFile,
        healthTimeoutMs: timeoutS * 1000,
        runMsiexec,
        healthCheck: statusHealthCheck(layout, 2_000, layout.root),
        log: createLogger({ logDir: paths.logs, name: 'update' }),
      });
      const { lastResult } = await loadUpdateState(stateFile);
      if (result !== 'updated') throw new OperationalError(`${lastResult}`, `update.${result}`);
      ctx.stdout.write(`${lastResult}\n`);
    });
}

function checkApplyOptions(opts: ApplyMsiOptions): number {
  for (const [flag, value] of [
    ['--from', opts.from],
    ['--to', opts.to],
  ]) {
    if (!semver.valid(value)) throw new UsageError(`${flag} ${value} is not a version (1.2.3)`);
  }
  for (const [flag, file] of [
    ['--msi', opts.msi],
    ['--previous-msi', opts.previousMsi],
  ]) {
    if (file !== undefined && !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      throw new UsageError(`${flag} ${file}: no such file; give the path of a downloaded MSI`);
    }
  }
  const timeout = Number(opts.timeout);
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new UsageError(`--timeout ${opts.timeout} must be a whole number of seconds, 1 or more`);
  }
  return timeout;
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
