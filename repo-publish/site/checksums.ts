import fs from 'node:fs';
import path from 'node:path';

import { digestFile } from './file-digest.ts';

/** `SHA256SUMS` over every file of the tree (sha256sum -c format), itself excluded. */
export async function renderChecksums(rootDir: string): Promise<string> {
  const files = fs
    .readdirSync(rootDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => !f.startsWith('SHA256SUMS') && fs.statSync(path.join(rootDir, f)).isFile())
    .sort();

  const lines: string[] = [];
  for (const rel of files) {
    lines.push(`${(await digestFile(path.join(rootDir, rel))).sha256}  ${rel}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}
