import fs from 'node:fs';
import path from 'node:path';

import { OperationalError } from '../../agent/cli/errors.ts';
import { signCleartext, signDetached, type ReleaseKeys } from '../keys/index.ts';
import { digestFile, sha256Of } from '../site/file-digest.ts';
import { placeFile, placeTree } from '../site/linked-copy.ts';
import { itemsBeyondRetention } from '../site/version-order.ts';
import { poolPath, readDebControl } from './deb-control.ts';
import { compressPackages, renderPackages, type PoolEntry } from './packages-index.ts';
import { renderRelease } from './release-file.ts';

/** Debian 11/12 and Ubuntu 18.04-24.04: one repository each, `apt-<codename>/`. */
export const APT_CODENAMES = ['bullseye', 'bookworm', 'bionic', 'focal', 'jammy', 'noble'];

const COMPONENT_DIR = 'main/binary-amd64';

export interface AptPublishOptions {
  codename: string;
  /** The generation being built and the one being served (null on the first publish). */
  buildDir: string;
  previousDir: string | null;
  /** New .deb files to add to the pool. */
  debs: string[];
  keys: ReleaseKeys;
  /** Versions kept per package (0 keeps all). */
  keep: number;
  /**
   * Pool files already placed for another codename in this run, by pool path: the same
   * .deb is hard-linked into every repository instead of copied six times.
   */
  placed?: Map<string, string>;
}

/** Builds `apt-<codename>/` in the new generation: pool, Packages, signed Release. */
export async function publishAptRepository(o: AptPublishOptions): Promise<PoolEntry[]> {
  const repoDir = path.join(o.buildDir, `apt-${o.codename}`);
  const previousRepo = o.previousDir && path.join(o.previousDir, `apt-${o.codename}`);
  fs.mkdirSync(path.join(repoDir, 'pool'), { recursive: true });
  if (previousRepo) placeTree(path.join(previousRepo, 'pool'), path.join(repoDir, 'pool'));

  for (const deb of o.debs) await addToPool(repoDir, deb, o.placed ?? new Map());
  const entries = applyRetention(repoDir, await scanPool(repoDir), o.keep);

  const distDir = path.join(repoDir, 'dists', o.codename);
  const indexes = await writeIndexes(
    distDir,
    entries,
    previousRepo && path.join(previousRepo, 'dists', o.codename),
  );
  await writeRelease(distDir, o, indexes);
  return entries;
}

async function addToPool(repoDir: string, deb: string, placed: Map<string, string>): Promise<void> {
  const control = await readDebControl(deb);
  const target = path.join(repoDir, poolPath(control));
  if (!fs.existsSync(target)) {
    const sibling = placed.get(`${deb}\0${poolPath(control)}`);
    if (sibling) {
      placeFile(sibling, target);
      return;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // A copy, not a link: dist/ is rewritten by the next build, the pool must not change.
    fs.copyFileSync(deb, target);
    placed.set(`${deb}\0${poolPath(control)}`, target);
    return;
  }

  const [published, incoming] = await Promise.all([digestFile(target), digestFile(deb)]);
  if (published.sha256 !== incoming.sha256) {
    throw new OperationalError(
      `${path.basename(deb)} differs from the ${control.package} ${control.version} already ` +
        `published in ${repoDir}: clients would see a hash mismatch. Bump the version.`,
      'publish_version_conflict',
    );
  }
}

async function scanPool(repoDir: string): Promise<PoolEntry[]> {
  const files = fs
    .readdirSync(path.join(repoDir, 'pool'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.deb'))
    .sort();
  const entries: PoolEntry[] = [];
  for (const rel of files) {
    const file = path.join(repoDir, 'pool', rel);
    entries.push({
      control: await readDebControl(file),
      filename: `pool/${rel}`,
      digest: await digestFile(file),
    });
  }
  return entries;
}

function applyRetention(repoDir: string, entries: PoolEntry[], keep: number): PoolEntry[] {
  const dropped = itemsBeyondRetention(
    entries,
    (e) => `${e.control.package}/${e.control.architecture}`,
    (e) => e.control.version,
    keep,
  );
  for (const e of dropped) fs.rmSync(path.join(repoDir, e.filename));
  return entries.filter((e) => !dropped.includes(e));
}

async function writeIndexes(
  distDir: string,
  entries: PoolEntry[],
  previousDist: string | null,
): Promise<Record<string, Buffer>> {
  const files = await compressPackages(renderPackages(entries));
  const componentDir = path.join(distDir, COMPONENT_DIR);
  const byHash = path.join(componentDir, 'by-hash', 'SHA256');
  fs.mkdirSync(byHash, { recursive: true });

  // The previous indexes stay reachable by hash for clients holding the previous InRelease.
  if (previousDist) carryPreviousByHash(path.join(previousDist, COMPONENT_DIR), byHash);

  const indexes: Record<string, Buffer> = {};
  for (const [name, data] of Object.entries(files)) {
    fs.writeFileSync(path.join(componentDir, name), data);
    fs.writeFileSync(path.join(byHash, sha256Of(data)), data);
    indexes[`${COMPONENT_DIR}/${name}`] = data;
  }
  return indexes;
}

function carryPreviousByHash(previousComponent: string, byHash: string): void {
  for (const name of ['Packages', 'Packages.gz', 'Packages.xz']) {
    const file = path.join(previousComponent, name);
    if (!fs.existsSync(file)) continue;
    const hash = sha256Of(fs.readFileSync(file));
    const source = path.join(previousComponent, 'by-hash', 'SHA256', hash);
    if (fs.existsSync(source)) placeFile(source, path.join(byHash, hash));
  }
}

async function writeRelease(
  distDir: string,
  o: AptPublishOptions,
  indexes: Record<string, Buffer>,
): Promise<void> {
  const release = renderRelease({
    codename: o.codename,
    date: o.keys.now,
    architectures: ['amd64'],
    indexes,
  });
  fs.writeFileSync(path.join(distDir, 'Release'), release);
  fs.writeFileSync(path.join(distDir, 'Release.gpg'), await signDetached(o.keys, release));
  fs.writeFileSync(path.join(distDir, 'InRelease'), await signCleartext(o.keys, release));
}
