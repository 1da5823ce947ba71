import fs from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { OperationalError } from '../cli/errors.ts';
import { silentLogger } from '../logging/logger.ts';
import { downloadVerified, fetchBounded } from '../trust/bounded-download.ts';
import { checkFreshness } from '../trust/freshness.ts';
import { verifyDetachedSignature } from '../trust/signed-document.ts';
import {
  applyBinUpdate,
  pruneVersions,
  type HealthCheck,
  type RestartService,
} from './bin-install.ts';
import { entryFor, parseFeed, type FeedEntry } from './feed.ts';
import type { InstallKind, InstallLayout } from './install-layout.ts';
import { keptMsi } from './msi-packages.ts';
import { pendingMsi, settleLostMsiWatcher } from './msi-pending.ts';
import type { MsiWatchRequest } from './msi-watch.ts';
import { launchMsiWatcher, type MsiWatcherLauncher } from './msi-watcher-launch.ts';
import { loadUpdateState, saveUpdateState, type UpdateState } from './update-state.ts';

export interface UpdaterOptions {
  /** Root URL of the distribution host (feed at feed/feed.json). */
  source: string;
  trustedKeys: string[];
  kind: InstallKind;
  layout: InstallLayout;
  stateFile: string;
  /** `linux-x64`, `win-x64`: the feed's platform key. */
  platform: string;
  installedVersion: string;
  dispatcher?: Dispatcher;
  now?: () => Date;
  /** Whole-transfer deadline for the feed and for the artifact. */
  feedDeadlineMs?: number;
  artifactDeadlineMs?: number;
  feedMaxBytes?: number;
  restartService: RestartService;
  healthCheck: HealthCheck;
  healthTimeoutMs?: number;
  /** Windows: where the MSI and its log go. */
  downloadDir: string;
  /** Windows: `%PROGRAMDATA%\certagent` (packages\ holds the installed version's MSI). */
  baseDir?: string;
  /** Windows: starts the process that installs the MSI, checks it and rolls it back. */
  msiWatcher?: MsiWatcherLauncher;
  log?: Logger;
}

export type UpdateOutcome =
  | { status: 'up-to-date'; version: string }
  | { status: 'available'; from: string; to: string }
  | { status: 'skipped-bad'; version: string }
  | { status: 'held'; version: string; offered: string }
  | { status: 'updated'; from: string; to: string }
  | { status: 'upgrade-started'; from: string; to: string; rollback: boolean }
  | { status: 'in-progress'; from: string; to: string; since: string };

const FEED_MAX_BYTES = 1024 * 1024;
// The MSI restarts the service, which then registers its properties and reconnects.
const MSI_HEALTH_TIMEOUT_MS = 300_000;
const SIGNATURE_MAX_BYTES = 64 * 1024;

/**
 * One update check, and with `apply` the update itself. Every outcome, refusals included,
 * is recorded in the state file for `status`; refusals are thrown after recording.
 */
export async function runUpdate(options: UpdaterOptions, apply: boolean): Promise<UpdateOutcome> {
  const state = await loadUpdateState(options.stateFile);
  const now = (options.now ?? (() => new Date()))();
  state.lastCheck = now.toISOString();
  settleLostMsiWatcher(state, options.installedVersion, now, options.log ?? silentLogger());
  try {
    const outcome = await checkAndApply(options, state, apply, now);
    state.lastOk = true;
    state.lastResult = describeOutcome(outcome);
    return outcome;
  } catch (err) {
    state.lastOk = false;
    state.lastResult = err instanceof Error ? err.message : String(err);
    (options.log ?? silentLogger()).warn({ err }, 'update refused or failed');
    throw err;
  } finally {
    if (!(await watcherReported(options.stateFile, state))) {
      await saveUpdateState(options.stateFile, state);
    }
  }
}

/** True when an MSI watcher started by this run already recorded its outcome. */
async function watcherReported(stateFile: string, state: UpdateState): Promise<boolean> {
  if (!state.pendingMsi) return false;
  const onDisk = await loadUpdateState(stateFile).catch(() => undefined);
  return !!onDisk && !onDisk.pendingMsi;
}

async function checkAndApply(
  options: UpdaterOptions,
  state: UpdateState,
  apply: boolean,
  now: Date,
): Promise<UpdateOutcome> {
  const entry = await fetchFeedEntry(options, state, now);
  const installed = options.installedVersion;
  checkNotBackwards(entry, installed, state);

  if (semver.eq(entry.version, installed)) return { status: 'up-to-date', version: installed };
  if (state.holdVersion) {
    return { status: 'held', version: state.holdVersion, offered: entry.version };
  }
  if (state.badVersions.includes(entry.version)) {
    return { status: 'skipped-bad', version: entry.version };
  }
  const pending = state.pendingMsi;
  if (pending?.to === entry.version) {
    return { status: 'in-progress', from: pending.from, to: pending.to, since: pending.started };
  }
  if (!apply) return { status: 'available', from: installed, to: entry.version };

  const artifact = await downloadArtifact(options, entry);
  if (options.kind === 'msi') {
    const request = await startMsiUpgrade(options, state, artifact, entry.version, now);
    return {
      status: 'upgrade-started',
      from: installed,
      to: entry.version,
      rollback: !!request.previousMsi,
    };
  }
  await installBin(options, state, entry, artifact);
  return { status: 'updated', from: installed, to: entry.version };
}

async function fetchFeedEntry(options: UpdaterOptions, state: UpdateState, now: Date) {
  const url = `${options.source.replace(/\/+$/, '')}/feed/feed.json`;
  const limits = { dispatcher: options.dispatcher, deadlineMs: options.feedDeadlineMs ?? 120_000 };
  const data = await fetchBounded(url, {
    ...limits,
    maxBytes: options.feedMaxBytes ?? FEED_MAX_BYTES,
  });
  const signature = await fetchBounded(`${url}.asc`, { ...limits, maxBytes: SIGNATURE_MAX_BYTES });

  await verifyDetachedSignature({
    data,
    signatureArmored: signature.toString('utf8'),
    trustedKeysArmored: options.trustedKeys,
    source: url,
  });
  const feed = parseFeed(data.toString('utf8'), url);
  checkFreshness(feed, { now, newestSequence: state.newestSequence, source: url });
  state.newestSequence = Math.max(state.newestSequence ?? 0, feed.sequence);
  return entryFor(feed, options.platform, url);
}

/** A validly signed feed may still offer an older release: never install one. */
function checkNotBackwards(entry: FeedEntry, installed: string, state: UpdateState): void {
  const floor = [installed, state.newestVersion].filter((v): v is string => !!v);
  const higher = floor.find((v) => semver.lt(entry.version, v));
  if (!higher) return;
  throw new OperationalError(
    `the feed offers version ${entry.version}, older than ${higher} already installed; ` +
      'refusing to go backwards (a rollback attack, or a feed published by mistake)',
    'update.rollback-version',
  );
}

async function downloadArtifact(options: UpdaterOptions, entry: FeedEntry): Promise<string> {
  await fs.mkdir(options.downloadDir, { recursive: true, mode: 0o700 });
  const destination = path.join(options.downloadDir, path.basename(entry.file));
  await fs.rm(destination, { force: true });
  await downloadVerified(`${options.source.replace(/\/+$/, '')}/${entry.file}`, {
    destination,
    size: entry.size,
    sha256: entry.sha256,
    dispatcher: options.dispatcher,
    deadlineMs: options.artifactDeadlineMs ?? 30 * 60_000,
  });
  return destination;
}

async function installBin(
  options: UpdaterOptions,
  state: UpdateState,
  entry: FeedEntry,
  artifact: string,
): Promise<void> {
  try {
    await applyBinUpdate({
      layout: options.layout,
      version: entry.version,
      platform: options.platform,
      artifact,
      restartService: options.restartService,
      healthCheck: options.healthCheck,
      healthTimeoutMs: options.healthTimeoutMs ?? 120_000,
    });
  } catch (err) {
    // Remembered so the scheduler does not install, crash and roll back in a loop.
    if ((err as OperationalError).code === 'update.rolled-back')
      state.badVersions.push(entry.version);
    throw err;
  } finally {
    await fs.rm(artifact, { force: true });
  }
  state.newestVersion = entry.version;
  await pruneVersions(options.layout, [entry.version, options.installedVersion]);
}

/**
 * Hands the verified MSI to a watcher process (msi-watch.ts) that installs it, waits for
 * the new version to run and connect, and reinstalls the kept MSI of this version if it
 * does not. This process is stopped by the upgrade, so the result reaches `status` through
 * the state file the watcher writes.
 */
async function startMsiUpgrade(
  options: UpdaterOptions,
  state: UpdateState,
  msi: string,
  version: string,
  now: Date,
): Promise<MsiWatchRequest> {
  const baseDir = options.baseDir ?? path.dirname(options.downloadDir);
  const request: MsiWatchRequest = {
    msi,
    from: options.installedVersion,
    to: version,
    // Missing after a first install unless the bootstrap kept its MSI there: that first
    // upgrade is then checked and reported, but cannot be rolled back.
    previousMsi: await keptMsi(baseDir, options.installedVersion),
    baseDir,
    stateFile: options.stateFile,
    healthTimeoutMs: options.healthTimeoutMs ?? MSI_HEALTH_TIMEOUT_MS,
  };
  // Saved before the launch and cleared by the watcher's report (runUpdate then leaves
  // that report alone); a watcher that never reports is settled at the deadline.
  state.pendingMsi = pendingMsi(request.from, version, now, request.healthTimeoutMs);
  state.lastResult = `MSI upgrade ${request.from} -> ${version} starting`;
  await saveUpdateState(options.stateFile, state);
  try {
    await (options.msiWatcher ?? launchMsiWatcher)(request, options.layout.root);
  } catch (err) {
    delete state.pendingMsi;
    throw err;
  }
  return request;
}

function describeOutcome(outcome: UpdateOutcome): string {
  switch (outcome.status) {
    case 'up-to-date':
      return `up to date (${outcome.version})`;
    case 'available':
      return `update available: ${outcome.from} -> ${outcome.to}`;
    case 'skipped-bad':
      return `version ${outcome.version} failed before and is skipped; waiting for a newer release`;
    case 'held':
      return `held at ${outcome.version} by the manager; ${outcome.offered} is not installed`;
    case 'updated':
      return `updated ${outcome.from} -> ${outcome.to}`;
    case 'in-progress':
      return `MSI upgrade ${outcome.from} -> ${outcome.to} in progress since ${outcome.since}`;
    case 'upgrade-started':
      return (
        `MSI upgrade ${outcome.from} -> ${outcome.to} started; ` +
        (outcome.rollback
          ? `${outcome.from} is reinstalled if ${outcome.to} does not start and connect`
          : `no MSI of ${outcome.from} is kept, so it cannot be rolled back`)
      );
  }
}

export { describeOutcome };
