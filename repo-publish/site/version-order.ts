/**
 * Orders version strings such as 0.0.9 < 0.0.10 < 1.2.0. Numeric runs compare as numbers.
 * Shortcut: this is not the full dpkg/rpm algorithm (no epochs, `~` is not sorted before
 * the empty string); our own x.y.z versions never need more.
 */
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

export function compareVersions(a: string, b: string): number {
  return collator.compare(a, b);
}

/** The versions to drop when only the newest `keep` may stay (keep 0 keeps all). */
export function versionsBeyondRetention(versions: string[], keep: number): string[] {
  if (keep <= 0) return [];
  const newestFirst = [...new Set(versions)].sort(compareVersions).reverse();
  return newestFirst.slice(keep);
}

/**
 * The items to drop when each group (package and architecture, say) keeps only its newest
 * `keep` versions.
 */
export function itemsBeyondRetention<T>(
  items: T[],
  groupOf: (item: T) => string,
  versionOf: (item: T) => string,
  keep: number,
): T[] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(groupOf(item), [...(groups.get(groupOf(item)) ?? []), item]);

  const dropped: T[] = [];
  for (const group of groups.values()) {
    const old = new Set(versionsBeyondRetention(group.map(versionOf), keep));
    dropped.push(...group.filter((item) => old.has(versionOf(item))));
  }
  return dropped;
}
