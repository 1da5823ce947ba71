import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import { msiexecSucceeded } from '../platform/msiexec-result.ts';
import type { HealthCheck } from './bin-install.ts';
import { keepInstalledMsi, msiPackagePath } from './msi-packages.ts';
import {
  buildMsiUpgradeCommand,
  describeMsiexecCode,
  type MsiexecRunner,
  type MsiUpgradeCommand,
} from './msi-upgrade.ts';
import { loadUpdateState, saveUpdateState } from './update-state.ts';

/** What the running agent hands to the watcher (all on its command line: nothing secret). */
export interface MsiWatchRequest {
  /** The verified MSI of the new version. */
  msi: string;
  from: string;
  to: string;
  /** The kept MSI of `from`; without it a failed upgrade cannot be rolled back. */
  previousMsi?: string;
  /** `%PROGRAMDATA%\certagent`: state file, packages\ and the msiexec logs. */
  baseDir: string;
  stateFile: string;
  healthTimeoutMs: number;
}

export interface MsiWatch extends MsiWatchRequest {
  runMsiexec: MsiexecRunner;
  /** Resolves once the installed agent reports `version` running and connected. */
  healthCheck: HealthCheck;
  log: Logger;
  systemRoot?: string;
}

export type MsiWatchResult =
  | 'updated'
  | 'install-failed'
  | 'rolled-back'
  | 'rollback-failed'
  | 'rollback-impossible';

/**
 * The MSI update, run by a copy of the agent outside the service that msiexec stops:
 * install, wait until the new version runs and is connected, and if it does not within
 * the limit reinstall the previous version's MSI. The outcome goes into the state file
 * for `status`; a version that failed is recorded so the scheduler never retries it.
 */
export async function watchMsiUpgrade(watch: MsiWatch): Promise<MsiWatchResult> {
  try {
    return await upgradeAndCheck(watch);
  } finally {
    // Kept under packages\ when installed; a failed version is never installed again, and a
    // retried one (1618) is downloaded and verified again.
    await fs.rm(watch.msi, { force: true });
  }
}

async function upgradeAndCheck(watch: MsiWatch): Promise<MsiWatchResult> {
  const { from, to, log } = watch;
  const installLog = `${watch.msi}.log`;
  const command = buildMsiUpgradeCommand(watch.msi, installLog, watch.systemRoot);
  log.info({ from, to, msi: watch.msi }, 'msi upgrade starting');
  const code = await startedMsiexec(watch, command);

  if (!msiexecSucceeded(code)) {
    // Windows Installer undid its own transaction: `from` is still what is installed.
    log.error({ from, to, code, installLog }, 'msi upgrade failed, windows installer rolled back');
    await record(watch, false, installFailed(watch, code, installLog), code !== 1618);
    return 'install-failed';
  }

  const reason = await healthFailure(watch, to);
  if (!reason) {
    await finishUpgrade(watch, code);
    return 'updated';
  }
  log.error({ from, to, reason }, 'new version unhealthy after msi upgrade, rolling back');
  return rollBack(watch, reason);
}

/** msiexec's exit code; a failure to start it is recorded (not as a bad version) and thrown. */
async function startedMsiexec(watch: MsiWatch, command: MsiUpgradeCommand): Promise<number> {
  try {
    return await watch.runMsiexec(command);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    await record(watch, false, `MSI upgrade ${watch.from} -> ${watch.to} not installed: ${reason}`);
    throw err;
  }
}

/** undefined when healthy, else why not (the health check's own message). */
async function healthFailure(watch: MsiWatch, version: string): Promise<string | undefined> {
  try {
    await watch.healthCheck(version, watch.healthTimeoutMs);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function installFailed(watch: MsiWatch, code: number, installLog: string): string {
  const retry =
    code === 1618
      ? 'it is tried again at the next check'
      : `${watch.to} is not tried again; a newer release will be`;
  return (
    `MSI upgrade ${watch.from} -> ${watch.to} failed: ${describeMsiexecCode(code)}; Windows ` +
    `Installer rolled it back, ${watch.from} is still installed (log: ${installLog}); ${retry}`
  );
}

async function finishUpgrade(watch: MsiWatch, code: number): Promise<void> {
  // Kept as the rollback target of the next upgrade.
  await keepInstalledMsi(watch.baseDir, watch.msi, watch.to);
  const restart = code === 3010 ? '; Windows needs a restart to finish it' : '';
  watch.log.info({ from: watch.from, to: watch.to, code }, 'msi upgrade healthy');
  await record(watch, true, `updated ${watch.from} -> ${watch.to} (MSI)${restart}`, false, true);
}

async function rollBack(watch: MsiWatch, reason: string): Promise<MsiWatchResult> {
  const { from, to, log } = watch;
  const failed = `MSI upgrade ${from} -> ${to}: ${to} did not start and connect (${reason})`;
  const never = `${to} is not tried again`;
  if (!watch.previousMsi) {
    const message =
      `${failed}; rollback impossible: no MSI of ${from} was kept ` +
      `(${msiPackagePath(watch.baseDir, from)} is missing), ` +
      `${to} stays installed. Reinstall ${from} with the bootstrap or its MSI; ${never}`;
    log.error({ from, to }, 'rollback impossible, no previous msi');
    await record(watch, false, message, true);
    return 'rollback-impossible';
  }

  const rollbackLog = `${watch.msi}.rollback.log`;
  const command = buildMsiUpgradeCommand(watch.previousMsi, rollbackLog, watch.systemRoot, {
    rollback: true,
  });
  const code = await watch.runMsiexec(command).catch((err: Error) => err);
  if (typeof code !== 'number' || !msiexecSucceeded(code)) {
    const why = typeof code === 'number' ? describeMsiexecCode(code) : code.message;
    const message =
      `${failed}; rollback to ${from} failed too: ${why} (log: ` +
      `${rollbackLog}). Reinstall ${from} by hand: msiexec /i "${watch.previousMsi}" ` +
      `CERTAGENT_ROLLBACK=1; ${never}`;
    log.error({ from, to, why, rollbackLog }, 'rollback msi failed');
    await record(watch, false, message, true);
    return 'rollback-failed';
  }

  const after = await healthFailure(watch, from);
  const state = after ? `but it is not healthy either (${after})` : 'running and connected again';
  log.warn({ from, to, healthy: !after }, 'rolled back to the previous msi');
  await record(watch, false, `${failed}; rolled back to ${from}, ${state}; ${never}`, true);
  return after ? 'rollback-failed' : 'rolled-back';
}

/** Re-read just before writing: the service records its next check in the same file. */
async function record(
  watch: MsiWatch,
  ok: boolean,
  result: string,
  bad = false,
  installed = false,
): Promise<void> {
  const state = await loadUpdateState(watch.stateFile);
  state.lastCheck = new Date().toISOString();
  state.lastOk = ok;
  state.lastResult = result;
  delete state.pendingMsi;
  if (bad && !state.badVersions.includes(watch.to)) state.badVersions.push(watch.to);
  if (installed) state.newestVersion = watch.to;
  await saveUpdateState(watch.stateFile, state);
}
