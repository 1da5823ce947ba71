import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ReleaseKeys } from '../../repo-publish/keys/index.ts';
import { signDetached } from '../../repo-publish/keys/index.ts';

export interface ArtifactDigest {
  file: string;
  size: number;
  sha256: string;
}

/** SHA-256 of a file, streamed (the executables are over 100 MB). */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function digestArtifacts(files: string[]): Promise<ArtifactDigest[]> {
  const sorted = [...files].sort();
  return Promise.all(
    sorted.map(async (file) => ({
      file,
      size: fs.statSync(file).size,
      sha256: await sha256File(file),
    })),
  );
}

/**
 * Writes `SHA256SUMS` (sha256sum format, names relative to distDir, sorted) and its
 * detached armoured signature `SHA256SUMS.asc` by the release key(s).
 */
export async function writeSignedChecksums(
  distDir: string,
  digests: ArtifactDigest[],
  keys: ReleaseKeys,
): Promise<string[]> {
  const lines = digests.map((d) => `${d.sha256}  ${path.relative(distDir, d.file)}\n`);
  const sums = path.join(distDir, 'SHA256SUMS');
  fs.writeFileSync(sums, lines.join(''));
  fs.writeFileSync(`${sums}.asc`, await signDetached(keys, fs.readFileSync(sums)));
  return [sums, `${sums}.asc`];
}
