import zlib from 'node:zlib';

import { execa } from 'execa';

import { compareVersions } from '../site/version-order.ts';
import type { FileDigest } from '../site/file-digest.ts';
import type { DebControl } from './deb-control.ts';

export interface PoolEntry {
  control: DebControl;
  /** Path relative to the repository root (`pool/main/...`). */
  filename: string;
  digest: FileDigest;
}

/** The Packages index: each control stanza plus where the file is and its hashes. */
export function renderPackages(entries: PoolEntry[]): string {
  const sorted = [...entries].sort(
    (a, b) =>
      a.control.package.localeCompare(b.control.package) ||
      compareVersions(a.control.version, b.control.version),
  );
  return sorted.map(renderStanza).join('\n');
}

function renderStanza(e: PoolEntry): string {
  return (
    e.control.stanza +
    `Filename: ${e.filename}\n` +
    `Size: ${e.digest.size}\n` +
    `MD5sum: ${e.digest.md5}\n` +
    `SHA1: ${e.digest.sha1}\n` +
    `SHA256: ${e.digest.sha256}\n`
  );
}

/** Packages, Packages.gz and Packages.xz: the three forms apt may ask for. */
export async function compressPackages(text: string): Promise<Record<string, Buffer>> {
  const plain = Buffer.from(text, 'utf8');
  const xz = await execa('xz', ['-9', '-c'], { input: plain, encoding: 'buffer' });
  return {
    Packages: plain,
    'Packages.gz': zlib.gzipSync(plain, { level: 9 }),
    'Packages.xz': Buffer.from(xz.stdout),
  };
}
