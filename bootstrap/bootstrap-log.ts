import fs from 'node:fs';
import path from 'node:path';

/**
 * The bootstrap's own log: plain timestamped lines appended to a file. Every secret value
 * given on the command line is replaced before a line is written, wherever it appears
 * (an error message from a proxy, a URL), not only in fields known to hold it.
 */
export class BootstrapLog {
  private readonly secrets: string[];

  constructor(
    private readonly file: string,
    secrets: Iterable<string>,
  ) {
    // Longest first, so a secret that contains another is masked whole.
    this.secrets = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  get path(): string {
    return this.file;
  }

  mask(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('*****');
    for (const secret of this.secrets) {
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) out = out.split(encoded).join('*****');
    }
    return out;
  }

  info(message: string): void {
    this.write('info', message);
  }

  warn(message: string): void {
    this.write('warn', message);
  }

  error(message: string): void {
    this.write('error', message);
  }

  private write(level: string, message: string): void {
    fs.appendFileSync(this.file, `${new Date().toISOString()} ${level} ${this.mask(message)}\n`, {
      mode: 0o600,
    });
  }
}
