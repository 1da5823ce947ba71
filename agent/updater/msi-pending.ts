import semver from 'semver';
import type { Logger } from 'pino';
import type { UpdateState } from './update-state.ts';

/** An MSI upgrade handed to its watcher, until the watcher records how it ended. */
export interface PendingMsi {
  from: string;
  to: string;
  started: string;
  /** After this the watcher is taken as lost (install, health check and rollback included). */
  deadline: string;
}

// msiexec itself, twice (upgrade and rollback), on a slow machine.
const MSIEXEC_ALLOWANCE_MS = 30 * 60_000;

export function pendingMsi(from: string, to: string, now: Date, healthTimeoutMs: number) {
  const deadline = new Date(now.getTime() + 2 * healthTimeoutMs + MSIEXEC_ALLOWANCE_MS);
  return { from, to, started: now.toISOString(), deadline: deadline.toISOString() };
}

/**
 * A watcher that never reported (ended with the service, crashed, a reboot in between) is
 * settled from what is installed now, once its deadline is past: the new version running
 * counts as installed; otherwise that version is not offered again, so a watcher that
 * cannot do its work does not download and start an upgrade at every check.
 */
export function settleLostMsiWatcher(
  state: UpdateState,
  installed: string,
  now: Date,
  log: Logger,
): void {
  const pending = state.pendingMsi;
  if (!pending || now.getTime() < Date.parse(pending.deadline)) return;
  delete state.pendingMsi;

  if (installed === pending.to) {
    const newest = state.newestVersion;
    if (!newest || semver.gt(pending.to, newest)) state.newestVersion = pending.to;
    log.warn({ ...pending }, 'msi update watcher never reported; the new version is installed');
    return;
  }
  if (!state.badVersions.includes(pending.to)) state.badVersions.push(pending.to);
  log.warn(
    { ...pending, installed },
    'msi update watcher never reported and the new version is not installed; not retried',
  );
}
