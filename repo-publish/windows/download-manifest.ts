import path from 'node:path';

import type { VersionedFile } from '../site/versioned-files.ts';
import { compareVersions } from '../site/version-order.ts';

/** MSIs as published: `certagent-<version>-<arch>.msi`. */
export const MSI_PATTERN = /^certagent-(?<version>\d[^-]*)-(?<arch>x64|x86|arm64)\.msi$/;

/** Manifests and feeds are valid this long; the bootstrap refuses older ones. */
export const SIGNED_DOCUMENT_LIFETIME_DAYS = 30;

/** What the bootstrap downloads: schema 1, read by bootstrap/. */
export interface DownloadManifest {
  schema: 1;
  product: 'certagent';
  /** Grows with every publish, so a replayed older manifest can be refused. */
  sequence: number;
  issued: string;
  expires: string;
  version: string;
  files: Array<{ kind: 'msi'; arch: string; file: string; size: number; sha256: string }>;
}

/** The manifest for the newest MSI version, or null when no MSI is published. */
export function buildDownloadManifest(
  msis: VersionedFile[],
  sequence: number,
  issued: Date,
): DownloadManifest | null {
  const version = newestVersion(msis);
  if (!version) return null;

  return {
    schema: 1,
    product: 'certagent',
    sequence,
    ...validity(issued),
    version,
    files: msis
      .filter((m) => m.version === version)
      .map((m) => ({
        kind: 'msi' as const,
        arch: m.arch,
        file: path.posix.basename(m.file),
        size: m.digest.size,
        sha256: m.digest.sha256,
      })),
  };
}

export function newestVersion(files: VersionedFile[]): string | null {
  const versions = files.map((f) => f.version).sort(compareVersions);
  return versions.at(-1) ?? null;
}

export function validity(issued: Date): { issued: string; expires: string } {
  const expires = new Date(issued.getTime() + SIGNED_DOCUMENT_LIFETIME_DAYS * 86_400_000);
  return { issued: issued.toISOString(), expires: expires.toISOString() };
}
