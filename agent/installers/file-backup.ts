import type { Connection, FileStat } from '../connections/connection.ts';
import { quoteWord } from '../connections/posix-command.ts';
import { StepError } from './install-result.ts';

/** One file about to be replaced: where it is, its old attributes, and its backup copy. */
export interface BackedUpFile {
  path: string;
  stat: FileStat | null;
  backup: string | null;
}

/** `20261204T164500Z`: sorts by time and is safe in a file name. */
export function backupStamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

/** Copies each existing file to `<file>.<stamp>.certagent-backup`, keeping mode and owner. */
export async function backupFiles(
  conn: Connection,
  paths: string[],
  stamp: string,
  sudo: boolean,
): Promise<BackedUpFile[]> {
  const out: BackedUpFile[] = [];
  for (const path of paths) {
    const stat = await conn.stat(path, { sudo });
    if (!stat) {
      out.push({ path, stat, backup: null });
      continue;
    }
    const backup = `${path}.${stamp}.certagent-backup`;
    const r = await conn.exec(['cp', '-p', path, backup], { sudo });
    if (r.exitCode !== 0) {
      throw new StepError('backup', `cannot back up ${path} on ${conn.label}: ${r.stderr.trim()}`);
    }
    out.push({ path, stat, backup });
  }
  return out;
}

/** Puts every backup back over its file; files that did not exist before are removed. */
export async function restoreFiles(
  conn: Connection,
  files: BackedUpFile[],
  sudo: boolean,
): Promise<string[]> {
  const problems: string[] = [];
  for (const f of files) {
    const script = f.backup
      ? `cp -p ${quoteWord(f.backup)} ${quoteWord(f.path)}`
      : `rm -f ${quoteWord(f.path)}`;
    const r = await conn.exec(['sh', '-c', script], { sudo });
    if (r.exitCode !== 0) problems.push(`${f.path}: ${r.stderr.trim()}`);
  }
  return problems;
}
