import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ResultBatch } from '../../protocol/messages.ts';

/**
 * Result batches on disk, one file per batch, waiting for the manager's acknowledgement.
 * A batch is written to a temp file, fsynced, renamed into place and the directory
 * fsynced, so after a crash a batch is either whole or absent. File names sort in the
 * order batches were queued.
 */
export class ResultQueue {
  private seq = 0;

  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Leftover temp files are batches whose write never finished: never sent, safe to drop.
    for (const name of fs.readdirSync(dir))
      if (name.endsWith('.tmp')) fs.rmSync(path.join(dir, name), { force: true });
  }

  /** Persists a batch; returns once it is durable. */
  enqueue(batch: Omit<ResultBatch, 'batchId'>): ResultBatch {
    const full: ResultBatch = { batchId: crypto.randomUUID(), ...batch };
    const name =
      `${Date.now().toString().padStart(15, '0')}-${String(this.seq++).padStart(6, '0')}-` +
      `${full.batchId}.json`;
    const tmp = path.join(this.dir, `${name}.tmp`);
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(full));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(this.dir, name));
    syncDir(this.dir);
    return full;
  }

  /** Queued batch files, oldest first. */
  pending(): string[] {
    return fs
      .readdirSync(this.dir)
      .filter((n) => n.endsWith('.json'))
      .sort()
      .map((n) => path.join(this.dir, n));
  }

  read(file: string): ResultBatch | undefined {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as ResultBatch;
    } catch {
      // Unreadable despite the atomic write (disk damage): keep it aside, out of the way.
      fs.renameSync(file, `${file}.corrupt`);
      return undefined;
    }
  }

  /** Called only after the manager acknowledged the batch. */
  remove(file: string): void {
    fs.rmSync(file, { force: true });
    syncDir(this.dir);
  }

  /** A batch the manager refused for good: renamed `.rejected`, kept for the operator. */
  setAside(file: string): void {
    fs.renameSync(file, `${file}.rejected`);
  }

  /** Task ids whose final batch is queued: those tasks are finished on this side. */
  finishedTaskIds(): Set<string> {
    const ids = new Set<string>();
    for (const file of this.pending()) {
      const batch = this.read(file);
      if (batch?.final) ids.add(batch.taskId);
    }
    return ids;
  }
}

function syncDir(dir: string): void {
  if (process.platform === 'win32') return; // Directories cannot be opened for fsync there.
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
