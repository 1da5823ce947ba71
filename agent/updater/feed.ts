import { OperationalError } from '../cli/errors.ts';
import { DocumentFields, RELATIVE_FILE, SHA256_HEX, VERSION } from '../trust/document-fields.ts';

/** One platform's current release in the update feed. */
export interface FeedEntry {
  version: string;
  /** Relative to the distribution host's root. */
  file: string;
  size: number;
  sha256: string;
}

/** feed/feed.json, published by repo-publish and signed with the release key. */
export interface UpdateFeed {
  sequence: number;
  issued: string;
  expires: string;
  platforms: Record<string, FeedEntry>;
}

/** Parses a feed whose signature was already verified. */
export function parseFeed(text: string, source: string): UpdateFeed {
  const doc = DocumentFields.parse(text, source);
  doc.constant('schema', 1);
  doc.constant('product', 'certagent');
  const platforms = doc.object('platforms');
  return {
    sequence: doc.integer('sequence'),
    issued: doc.string('issued'),
    expires: doc.string('expires'),
    platforms: Object.fromEntries(
      platforms.keys().map((name) => {
        const entry = platforms.object(name);
        return [
          name,
          {
            version: entry.string('version', VERSION),
            file: entry.string('file', RELATIVE_FILE),
            size: entry.integer('size', 1),
            sha256: entry.string('sha256', SHA256_HEX),
          },
        ];
      }),
    ),
  };
}

/**
 * The artifact names each platform's entry may point at, after `certagent-<version>-`, as
 * the publish step writes them (repo-publish/site/publish-site.ts BIN_PATTERN and
 * repo-publish/windows/download-manifest.ts MSI_PATTERN): the Linux installers carry the
 * platform key, the MSIs only their architecture. The tarballs are what bin-install.ts
 * also unpacks.
 */
const ARTIFACT_SUFFIXES: Record<string, string[]> = {
  'linux-x64': ['linux-x64.bin', 'linux-x64.tar.gz', 'linux-x64.tar.xz'],
  'win-x64': ['x64.msi'],
};

/** A platform the table does not know gets the Linux naming: its key, then an extension. */
function artifactSuffixes(platform: string): string[] {
  return ARTIFACT_SUFFIXES[platform] ?? [`${platform}.bin`, `${platform}.tar.gz`];
}

/**
 * This platform's entry. The file name must be exactly the one the publish step gives this
 * version on this platform: a feed that pairs one release's metadata with another's
 * artifact (mix-and-match) is refused even when the hashes agree.
 */
export function entryFor(feed: UpdateFeed, platform: string, source: string): FeedEntry {
  const entry = feed.platforms[platform];
  if (!entry) {
    throw new OperationalError(
      `${source}: the feed has no release for platform ${platform} (it lists ` +
        `${Object.keys(feed.platforms).join(', ') || 'none'}); nothing to update`,
      'update.no-platform',
    );
  }
  const name = entry.file.split('/').pop() ?? '';
  const expected = artifactSuffixes(platform).map((s) => `certagent-${entry.version}-${s}`);
  if (!expected.includes(name)) {
    throw new OperationalError(
      `${source}: the ${platform} entry says version ${entry.version} but points at ` +
        `${entry.file}, an artifact of another version or platform (expected ` +
        `${expected.join(' or ')}); refusing it`,
      'update.mix-and-match',
    );
  }
  return entry;
}
