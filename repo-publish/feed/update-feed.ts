import type { VersionedFile } from '../site/versioned-files.ts';
import { newestVersion, validity } from '../windows/download-manifest.ts';

export interface FeedEntry {
  version: string;
  /** Relative to the site root. */
  file: string;
  size: number;
  sha256: string;
}

/** The auto-update feed, schema 1, read by agent/updater. */
export interface UpdateFeed {
  schema: 1;
  product: 'certagent';
  sequence: number;
  issued: string;
  expires: string;
  platforms: Partial<Record<'linux-x64' | 'win-x64', FeedEntry>>;
}

/** The newest .bin and x64 MSI; null when neither is published. */
export function buildUpdateFeed(
  bins: VersionedFile[],
  msis: VersionedFile[],
  sequence: number,
  issued: Date,
): UpdateFeed | null {
  const platforms: UpdateFeed['platforms'] = {};
  const linux = newestOf(bins);
  const windows = newestOf(msis.filter((m) => m.arch === 'x64'));
  if (linux) platforms['linux-x64'] = linux;
  if (windows) platforms['win-x64'] = windows;
  if (!linux && !windows) return null;

  return { schema: 1, product: 'certagent', sequence, ...validity(issued), platforms };
}

function newestOf(files: VersionedFile[]): FeedEntry | null {
  const version = newestVersion(files);
  const f = files.find((x) => x.version === version);
  if (!f) return null;
  return { version: f.version, file: f.file, size: f.digest.size, sha256: f.digest.sha256 };
}
