import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';

/** The exclusive claim of one `serve` on a data directory; release() gives it back. */
export interface ServeLock {
  release(): void;
}

/**
 * Takes DIR/serve.lock (holding our pid) so two managers never serve one database. A lock
 * whose pid is gone (a crash, SIGKILL) is taken over; a live one is refused.
 */
export function acquireServeLock(dataDir: string): ServeLock {
  const file = path.join(dataDir, 'serve.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return { release: () => releaseIfOurs(file) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new OperationalError(
          `cannot create ${file}: ${(err as Error).message}; ` +
            `check the --data directory permissions`,
          'serve-lock',
          { cause: err },
        );
      }
    }

    const pid = ownerOf(file);
    if (pid !== null && isAlive(pid)) {
      throw new OperationalError(
        `another manager is serving ${dataDir} (pid ${pid}); stop it, or use another --data`,
        'serve-locked',
      );
    }
    // Stale: its owner is gone. Removing and retrying with 'wx' keeps the takeover atomic.
    fs.rmSync(file, { force: true });
  }
  throw new OperationalError(
    `another manager is taking ${file} at the same time; try again`,
    'serve-locked',
  );
}

function ownerOf(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseIfOurs(file: string): void {
  if (ownerOf(file) === process.pid) fs.rmSync(file, { force: true });
}
