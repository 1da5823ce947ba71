import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';

const DENIED = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Turns a raw "EACCES: permission denied, mkdir '/x/conf'" into a message naming the
 * directory and the ways out; any other error is returned unchanged.
 */
export function explainPermissionError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || !e.code || !DENIED.has(e.code) || !e.path) return err;

  // mkdir names the directory itself; for a file, the directory that holds it.
  const dir = e.syscall === 'mkdir' || e.syscall === 'scandir' ? e.path : path.dirname(e.path);
  const what =
    e.code === 'EROFS'
      ? 'is on a read-only file system'
      : 'is not writable (or readable) by this user';
  return new OperationalError(
    `${dir} ${what} (${e.syscall ?? 'access'} ${e.path}); ` +
      `run as root or the service user, or use --base-dir DIR`,
    'permission-denied',
    { cause: err },
  );
}
