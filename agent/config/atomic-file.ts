import fs from 'node:fs';

/**
 * Replaces `file` with `content`: written to a temporary file beside it (so the rename
 * stays on one filesystem), flushed to disk, then renamed over it. A reader or a crash sees
 * the old file or the new one, never half of either. The file gets `mode` (owner-only by
 * default: these files hold keys, tokens and configuration).
 */
export function writeFileAtomic(file: string, content: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
