import fs from 'node:fs';
import path from 'node:path';

/** The armoured release public key, written into release builds by esbuild `define`. */
declare const CERTAGENT_RELEASE_KEY: string | undefined;

/** The release keys compiled into this build; empty when run from sources. */
export function embeddedReleaseKeys(): string[] {
  return typeof CERTAGENT_RELEASE_KEY === 'string' && CERTAGENT_RELEASE_KEY
    ? [CERTAGENT_RELEASE_KEY]
    : [];
}

/**
 * The keys the updater trusts: the embedded one, else `release-key.asc` that the
 * installer placed in the (root-owned) install root. A key anywhere a non-administrator
 * can write would let that user sign their own updates, so no other place is read.
 */
export function releaseKeysFor(installRoot: string): string[] {
  const embedded = embeddedReleaseKeys();
  if (embedded.length > 0) return embedded;
  try {
    return [fs.readFileSync(path.join(installRoot, 'release-key.asc'), 'utf8')];
  } catch {
    return [];
  }
}
