import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Remembers the highest sequence number accepted per signed document, so a later rollback
 * to an older (validly signed) document is refused. Written atomically (temp + rename).
 */
export class SequenceStore {
  constructor(private readonly file: string) {}

  async newest(document: string): Promise<number | undefined> {
    const all = await this.readAll();
    const value = all[document];
    return typeof value === 'number' ? value : undefined;
  }

  async record(document: string, sequence: number): Promise<void> {
    const all = await this.readAll();
    if ((all[document] ?? -1) >= sequence) return;

    all[document] = sequence;
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    await fs.writeFile(temp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o644 });
    await fs.rename(temp, this.file);
  }

  private async readAll(): Promise<Record<string, number>> {
    try {
      const parsed: unknown = JSON.parse(await fs.readFile(this.file, 'utf8'));
      return typeof parsed === 'object' && parsed !== null
        ? (parsed as Record<string, number>)
        : {};
    } catch (err) {
      // A missing file means nothing was seen yet. A corrupt one is treated the same way
      // rather than blocking every install; signatures and expiry still apply.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return {};
      throw err;
    }
  }
}
