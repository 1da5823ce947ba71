import fs from 'node:fs';
import path from 'node:path';

import { OperationalError } from '../../agent/cli/errors.ts';

/**
 * One publisher at a time per site: two would both build generation N+1. The lock holds
 * the owner's pid, so a lock left by a crashed publish is taken over, not obeyed forever.
 */
export function acquirePublishLock(siteDir: string): () => void {
  const file = path.join(siteDir, '.publish.lock');
  fs.mkdirSync(siteDir, { recursive: true });

  if (!tryCreate(file)) {
    const owner = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (isAlive(owner)) {
      throw new OperationalError(
        `another publish (pid ${owner}) is writing ${siteDir}; wait for it to finish ` +
          `or, if no publish runs, delete ${file}.`,
        'publish_locked',
      );
    }
    fs.rmSync(file, { force: true });
    if (!tryCreate(file))
      throw new OperationalError(`cannot lock ${file}: retry.`, 'publish_locked');
  }
  return () => fs.rmSync(file, { force: true });
}

function tryCreate(file: string): boolean {
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
