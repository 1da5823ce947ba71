import fs from 'node:fs/promises';
import path from 'node:path';
import type { PendingMsi } from './msi-pending.ts';

/** What the updater remembers between runs, in conf/update-state.json. */
export interface UpdateState {
  /** Highest feed sequence accepted: an older feed is a rollback attack. */
  newestSequence?: number;
  /** Highest version ever installed: the updater never goes below it. */
  newestVersion?: string;
  lastCheck?: string;
  /** One line: "up to date (1.2.3)", "updated 1.2.3 -> 1.3.0", or the error. */
  lastResult?: string;
  lastOk?: boolean;
  nextCheck?: string;
  /** Set by the manager ("hold at version"): nothing else is installed while set. */
  holdVersion?: string;
  /** Versions that failed their health check; never tried again. */
  badVersions: string[];
  /** An MSI upgrade whose watcher has not reported yet. */
  pendingMsi?: PendingMsi;
}

export function updateStateFile(confDir: string): string {
  return path.join(confDir, 'update-state.json');
}

export async function loadUpdateState(file: string): Promise<UpdateState> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<UpdateState>;
    return { ...parsed, badVersions: Array.isArray(parsed.badVersions) ? parsed.badVersions : [] };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { badVersions: [] };
    throw err;
  }
}

/** Written atomically so a crash mid-write never loses the rollback protection. */
export async function saveUpdateState(file: string, state: UpdateState): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
}
