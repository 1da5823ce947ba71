import { execa } from 'execa';
import type { Connection, ExecOptions, ExecResult, FileStat, WriteOptions } from './connection.ts';
import { PosixFiles, quoteCommand } from './posix-command.ts';

/** The agent's own machine, with the agent's own rights (sudo is not used locally). */
export class LocalConnection implements Connection {
  readonly label = 'local';
  private readonly files = new PosixFiles(this.label, (script, options) =>
    this.shell(script, options),
  );

  exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.shell(quoteCommand(argv), options);
  }

  readFile(path: string): Promise<Buffer> {
    return this.files.readFile(path);
  }

  writeFile(path: string, data: Buffer | string, options: WriteOptions): Promise<void> {
    return this.files.writeFile(path, data, options);
  }

  stat(path: string): Promise<FileStat | null> {
    return this.files.stat(path);
  }

  async close(): Promise<void> {}

  private async shell(script: string, options: ExecOptions): Promise<ExecResult> {
    const r = await execa('sh', ['-c', script], {
      input: options.stdin ?? '',
      reject: false,
      timeout: 120_000,
    });
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }
}
