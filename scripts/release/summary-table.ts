import path from 'node:path';
import type { ArtifactDigest } from './checksums.ts';

/** The closing table: every artifact, its size and SHA-256. */
export function summaryTable(distDir: string, digests: ArtifactDigest[]): string {
  const rows = digests.map((d) => [path.relative(distDir, d.file), humanSize(d.size), d.sha256]);
  const header = ['artifact', 'size', 'sha256'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
