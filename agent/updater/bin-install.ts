import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { OperationalError } from '../cli/errors.ts';
import type { InstallLayout } from './install-layout.ts';
import { checkReleaseIdentity } from './release-executable.ts';

/** Restarts the agent's service (systemd, SysVinit, or a test's stand-in). */
export type RestartService = () => Promise<void>;
/** Resolves once `version` runs and has reconnected; rejects after `timeoutMs`. */
export type HealthCheck = (version: string, timeoutMs: number) => Promise<void>;

export interface BinUpdate {
  layout: InstallLayout;
  version: string;
  platform: string;
  /** The verified artifact: a makeself `.bin`, or a `.tar.gz` / `.tar.xz`. */
  artifact: string;
  restartService: RestartService;
  healthCheck: HealthCheck;
  healthTimeoutMs: number;
}

/**
 * Installs a verified release beside the running one and switches to it: unpack into
 * `versions/<v>`, check the executable's identity, swap `current` atomically, restart,
 * and health-check. On failure `current` goes back to the previous version, which is
 * restarted, and the error says so.
 */
export async function applyBinUpdate(update: BinUpdate): Promise<void> {
  const { layout, version } = update;
  const previous = await fs.readlink(layout.current).catch(() => undefined);
  const target = path.join(layout.versions, version);
  if (previous && path.resolve(layout.root, previous) === target) {
    throw new OperationalError(`${target} is already the running version`, 'update.same-version');
  }

  await unpackRelease(update, target);
  await swapCurrent(layout, path.relative(layout.root, target));

  try {
    await update.restartService();
    await update.healthCheck(version, update.healthTimeoutMs);
  } catch (err) {
    await rollBack(update, previous, err);
  }
}

async function unpackRelease(update: BinUpdate, target: string): Promise<void> {
  const { artifact, layout, version } = update;
  const staging = path.join(layout.versions, `.staging-${version}-${process.pid}`);
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true, mode: 0o755 });
  try {
    await execa(...unpackCommand(artifact, staging), { timeout: 300_000 });
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw new OperationalError(
      `${artifact}: could not be unpacked into ${staging} (${(err as Error).message}); ` +
        'check free space under the install root, nothing was changed',
      'update.unpack',
      { cause: err },
    );
  }

  // Identity is checked before the tree gets its version's name: a refused artifact
  // leaves nothing under versions/.
  try {
    await checkReleaseIdentity(staging, { version, platform: update.platform });
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }

  // A directory left by an earlier failed attempt at this version is replaced.
  await fs.rm(target, { recursive: true, force: true });
  await fs.rename(staging, target);
}

function unpackCommand(artifact: string, dir: string): [string, string[]] {
  if (/\.(tar\.gz|tgz)$/.test(artifact)) return ['tar', ['-xzf', artifact, '-C', dir]];
  if (/\.tar\.xz$/.test(artifact)) return ['tar', ['-xJf', artifact, '-C', dir]];
  // makeself: extract only; the installer script is for first installs, not updates.
  return ['sh', [artifact, '--noexec', '--nox11', '--quiet', '--accept', '--target', dir]];
}

/** Points `current` at `target` in one rename, so no reader ever sees it missing. */
export async function swapCurrent(layout: InstallLayout, target: string): Promise<void> {
  const temp = `${layout.current}.${process.pid}.new`;
  await fs.rm(temp, { force: true });
  await fs.symlink(target, temp);
  await fs.rename(temp, layout.current);
}

async function rollBack(update: BinUpdate, previous: string | undefined, cause: unknown) {
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (!previous) {
    throw new OperationalError(
      `version ${update.version} failed its health check (${reason}) and there is no ` +
        'previous version to return to; reinstall with the .bin',
      'update.health-failed',
      { cause },
    );
  }
  await swapCurrent(update.layout, previous);
  let restarted = 'the previous version was restarted';
  try {
    await update.restartService();
  } catch (err) {
    restarted = `restarting the previous version failed too (${(err as Error).message})`;
  }
  throw new OperationalError(
    `version ${update.version} failed its health check (${reason}); rolled back to ` +
      `${path.basename(previous)}, ${restarted}. It will not be tried again.`,
    'update.rolled-back',
    { cause },
  );
}

/** Removes unpacked versions other than the current and the one before it. */
export async function pruneVersions(layout: InstallLayout, keep: string[]): Promise<void> {
  for (const entry of await fs.readdir(layout.versions).catch(() => [] as string[])) {
    if (!keep.includes(entry) && !entry.startsWith('.')) {
      await fs.rm(path.join(layout.versions, entry), { recursive: true, force: true });
    }
  }
}
