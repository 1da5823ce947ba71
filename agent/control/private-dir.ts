import fs from 'node:fs';
import { OperationalError } from '../cli/errors.ts';

/**
 * Makes sure the directory holding the control socket belongs to this user and nobody
 * else can enter it: otherwise another local user could plant a socket there and receive
 * the commands (credential-store secrets among them) meant for the service.
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new OperationalError(
      `control socket directory ${dir} is not a directory ` +
        `owned by this user; remove it and start the service again`,
      'control-dir-unsafe',
    );
  }
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

/** For the client: the directory must be owned by this user or root, and private. */
export function isTrustedDir(dir: string): boolean {
  try {
    const st = fs.lstatSync(dir);
    const uid = process.getuid?.();
    const owner = uid === undefined || st.uid === uid || st.uid === 0;
    return st.isDirectory() && owner && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}
