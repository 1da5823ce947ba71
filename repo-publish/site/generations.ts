import fs from 'node:fs';
import path from 'node:path';

import { OperationalError } from '../../agent/cli/errors.ts';

/**
 * A site is a set of immutable generation directories under `.generations/`; the public
 * names at the top (`linux`, `apt-bookworm`, `SHA256SUMS`...) are symlinks into the
 * current one. A publish builds generation N+1 beside N and swaps each symlink with one
 * rename, so a web server always serves a complete tree, old or new, never a half-written
 * one. The previous generations stay for readers that are mid-download.
 */
export const GENERATIONS_DIR = '.generations';
const CURRENT_LINK = 'current';
const KEEP_OLD_GENERATIONS = 2;

export interface Generation {
  sequence: number;
  /** Where the new tree is built (renamed to its final name on activation). */
  buildDir: string;
  /** The current generation's directory, or null on the first publish. */
  previousDir: string | null;
}

/** Reserves the next sequence number and an empty build directory for it. */
export function startGeneration(siteDir: string): Generation {
  const root = path.join(siteDir, GENERATIONS_DIR);
  fs.mkdirSync(root, { recursive: true });

  const current = currentSequence(siteDir);
  const sequence = Math.max(current ?? 0, highestSequence(root)) + 1;
  const buildDir = path.join(root, `${seqName(sequence)}.building`);
  fs.rmSync(buildDir, { recursive: true, force: true });
  fs.mkdirSync(buildDir);
  fs.chmodSync(buildDir, 0o755);

  const previousDir = current === null ? null : path.join(root, seqName(current));
  return { sequence, buildDir, previousDir };
}

/** The sequence number of the generation being served, or null for an empty site. */
export function currentSequence(siteDir: string): number | null {
  try {
    const target = fs.readlinkSync(path.join(siteDir, GENERATIONS_DIR, CURRENT_LINK));
    return Number.parseInt(target, 10);
  } catch {
    return null;
  }
}

/** Moves the finished tree into place and points every public name at it. */
export function activateGeneration(siteDir: string, gen: Generation): string {
  // Checksums last: a reader who sees the new SHA256SUMS finds every file it lists.
  const entries = fs.readdirSync(gen.buildDir).sort((a, b) => checksumLast(a) - checksumLast(b));
  // Every name is checked before any is swapped, so a refusal leaves the site untouched.
  for (const name of entries) assertManaged(siteDir, name);

  const root = path.join(siteDir, GENERATIONS_DIR);
  const finalDir = path.join(root, seqName(gen.sequence));
  fs.renameSync(gen.buildDir, finalDir);
  for (const name of entries) {
    swapLink(siteDir, name, path.join(GENERATIONS_DIR, seqName(gen.sequence), name));
  }
  removeStaleLinks(siteDir, new Set(entries));

  swapLink(root, CURRENT_LINK, seqName(gen.sequence));
  pruneGenerations(root, gen.sequence);
  return finalDir;
}

function assertManaged(dir: string, name: string): void {
  const link = path.join(dir, name);
  const existing = fs.lstatSync(link, { throwIfNoEntry: false });
  if (existing && !existing.isSymbolicLink()) {
    throw new OperationalError(
      `${link} exists and is not managed by publish (not a symlink into ${GENERATIONS_DIR}/). ` +
        'Publish into an empty directory or one made by `npm run publish`.',
      'publish_site_layout',
    );
  }
}

function swapLink(dir: string, name: string, target: string): void {
  assertManaged(dir, name);
  const temp = path.join(dir, `.${name}.swap-${process.pid}`);
  fs.rmSync(temp, { force: true });
  fs.symlinkSync(target, temp);
  fs.renameSync(temp, path.join(dir, name));
}

function removeStaleLinks(siteDir: string, keep: Set<string>): void {
  for (const name of fs.readdirSync(siteDir)) {
    if (name.startsWith('.') || keep.has(name)) continue;
    const stat = fs.lstatSync(path.join(siteDir, name));
    const target = stat.isSymbolicLink() ? fs.readlinkSync(path.join(siteDir, name)) : '';
    if (target.startsWith(`${GENERATIONS_DIR}/`)) fs.rmSync(path.join(siteDir, name));
  }
}

function pruneGenerations(root: string, current: number): void {
  for (const name of fs.readdirSync(root)) {
    const seq = Number.parseInt(name, 10);
    if (Number.isNaN(seq) || seq > current) continue;
    const stale = name.endsWith('.building') || seq < current - KEEP_OLD_GENERATIONS;
    if (stale) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
}

function highestSequence(root: string): number {
  const seqs = fs.readdirSync(root).map((n) => Number.parseInt(n, 10));
  return Math.max(0, ...seqs.filter((n) => !Number.isNaN(n)));
}

function checksumLast(name: string): number {
  return name.startsWith('SHA256SUMS') ? 1 : 0;
}

function seqName(sequence: number): string {
  return String(sequence).padStart(8, '0');
}
