import { OperationalError } from '../cli/errors.ts';
import type { Connection, ExecOptions, ExecResult, FileStat, WriteOptions } from './connection.ts';

/** Quotes one word for a POSIX shell: single quotes, with embedded quotes escaped. */
export function quoteWord(word: string): string {
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function quoteCommand(argv: string[]): string {
  return argv.map(quoteWord).join(' ');
}

/** Runs a raw shell string; each connection kind supplies its own transport. */
export type ShellRunner = (script: string, options: ExecOptions) => Promise<ExecResult>;

/**
 * File operations on a POSIX node expressed as shell commands, so that they can run under
 * sudo on SSH exactly as locally. Content travels on stdin, never in the command line.
 */
export class PosixFiles {
  constructor(
    private readonly label: string,
    private readonly run: ShellRunner,
  ) {}

  async readFile(path: string, sudo = false): Promise<Buffer> {
    const r = await this.run(`base64 < ${quoteWord(path)}`, { sudo });
    if (r.exitCode !== 0) {
      throw new OperationalError(
        `cannot read ${path} on ${this.label}: ${r.stderr.trim() || `exit ${r.exitCode}`}; ` +
          'check the path and that the login (or sudo) may read it',
        'node-read-failed',
      );
    }
    return Buffer.from(r.stdout.replace(/\s+/g, ''), 'base64');
  }

  // Written to a temporary sibling then renamed, so a reader never sees a half file.
  async writeFile(path: string, data: Buffer | string, options: WriteOptions): Promise<void> {
    const tmp = `${path}.certagent-tmp`;
    const steps = [
      `umask 077`,
      `base64 -d > ${quoteWord(tmp)}`,
      `chmod ${options.mode.toString(8)} ${quoteWord(tmp)}`,
      options.owner ? `chown ${options.owner.uid}:${options.owner.gid} ${quoteWord(tmp)}` : 'true',
      `mv -f ${quoteWord(tmp)} ${quoteWord(path)}`,
    ];
    const script = `${steps.join(' && ')} || { rm -f ${quoteWord(tmp)}; exit 1; }`;
    const body = Buffer.from(data).toString('base64');
    const r = await this.run(script, { sudo: options.sudo, stdin: body });
    if (r.exitCode !== 0) {
      throw new OperationalError(
        `cannot write ${path} on ${this.label}: ${r.stderr.trim() || `exit ${r.exitCode}`}; ` +
          'check that the directory exists and the login (or sudo) may write it',
        'node-write-failed',
      );
    }
  }

  async stat(path: string, sudo = false): Promise<FileStat | null> {
    const r = await this.run(`stat -L -c '%f %u %g %s' ${quoteWord(path)}`, { sudo });
    if (r.exitCode !== 0) return null;
    const [mode, uid, gid, size] = r.stdout.trim().split(/\s+/);
    return {
      mode: parseInt(mode ?? '0', 16) & 0o7777,
      uid: Number(uid),
      gid: Number(gid),
      size: Number(size),
    };
  }
}

export type { Connection };
