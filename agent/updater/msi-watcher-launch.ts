import fs from 'node:fs/promises';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';
import { startOutliving } from './detached-process.ts';
import type { MsiWatchRequest } from './msi-watch.ts';

/** The hidden verb the watcher runs (agent/cli/commands/update.ts). */
export const APPLY_MSI_VERB = 'apply-msi-update';

/** Starts the watcher of an MSI update so that it outlives the service msiexec stops. */
export type MsiWatcherLauncher = (request: MsiWatchRequest, installRoot: string) => Promise<void>;

/** The command line of the watcher: paths and versions only, never a secret. */
export function watcherArgs(request: MsiWatchRequest, installRoot: string): string[] {
  return [
    '--base-dir',
    request.baseDir,
    APPLY_MSI_VERB,
    '--msi',
    request.msi,
    '--from',
    request.from,
    '--to',
    request.to,
    ...(request.previousMsi ? ['--previous-msi', request.previousMsi] : []),
    '--install-root',
    installRoot,
    '--timeout',
    String(Math.ceil(request.healthTimeoutMs / 1000)),
  ];
}

/**
 * Copies the running certagent.exe beside the downloaded MSI and starts the copy so that it
 * outlives the service: the installed executable is replaced by the upgrade (a running one
 * would be locked and force a reboot), and this process dies with the service.
 */
export const launchMsiWatcher: MsiWatcherLauncher = async (request, installRoot) => {
  const self = process.execPath;
  if (!/^certagent(\.exe)?$/i.test(path.basename(self))) {
    throw new OperationalError(
      `an MSI update must be run by the installed certagent.exe, not ${self}; ` +
        'run "certagent update --now" from the install folder',
      'update.not-installed-executable',
    );
  }
  // Left in updates\ afterwards (a running exe cannot delete itself); the next update
  // overwrites it, and a copy still running makes that fail as "another update is running".
  const watcher = path.join(path.dirname(request.msi), 'certagent-update-watcher.exe');
  try {
    await fs.copyFile(self, watcher);
  } catch (err) {
    throw new OperationalError(
      `${watcher} could not be written (${(err as Error).message}); another update may still ` +
        'be running, try again once it has finished',
      'update.watcher-busy',
      { cause: err },
    );
  }
  await startOutliving(watcher, watcherArgs(request, installRoot));
};
