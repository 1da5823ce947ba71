import fs from 'node:fs';
import path from 'node:path';

import { execa } from 'execa';

import { OperationalError } from '../../agent/cli/errors.ts';
import { signDetached, type ReleaseKeys } from '../keys/index.ts';
import { placeTree } from '../site/linked-copy.ts';
import { itemsBeyondRetention } from '../site/version-order.ts';
import { readRpmHeader, type RpmHeader } from './rpm-header.ts';
import { signRpms } from './rpm-signing.ts';

/** Relative to the site root. */
export const DNF_REPO_DIR = 'linux/rpm';
const PACKAGES_DIR = 'packages';

export interface DnfPublishOptions {
  buildDir: string;
  previousDir: string | null;
  rpms: string[];
  keys: ReleaseKeys;
  keep: number;
}

/** Builds `linux/rpm/`: signed RPMs, createrepo_c metadata, detached repomd.xml.asc. */
export async function publishDnfRepository(o: DnfPublishOptions): Promise<RpmHeader[]> {
  const repoDir = path.join(o.buildDir, DNF_REPO_DIR);
  const poolDir = path.join(repoDir, PACKAGES_DIR);
  fs.mkdirSync(poolDir, { recursive: true });
  if (o.previousDir) placeTree(path.join(o.previousDir, DNF_REPO_DIR, PACKAGES_DIR), poolDir);

  const added: string[] = [];
  for (const rpm of o.rpms) {
    const target = await addToPool(poolDir, rpm);
    if (target) added.push(target);
  }
  await signRpms(added, o.keys.signing[0]!);

  const headers = await applyRetention(poolDir, o.keep);
  await createRepodata(repoDir);
  const repomd = fs.readFileSync(path.join(repoDir, 'repodata', 'repomd.xml'));
  fs.writeFileSync(
    path.join(repoDir, 'repodata', 'repomd.xml.asc'),
    await signDetached(o.keys, repomd),
  );
  return headers;
}

/** Copies a new RPM into the pool; returns null when the same build is already there. */
async function addToPool(poolDir: string, rpm: string): Promise<string | null> {
  const target = path.join(poolDir, path.basename(rpm));
  if (fs.existsSync(target)) {
    const [published, incoming] = await Promise.all([readRpmHeader(target), readRpmHeader(rpm)]);
    if (published.headerSha256 === incoming.headerSha256) return null;
    throw new OperationalError(
      `${path.basename(rpm)} differs from the ${incoming.name} ${incoming.evr} already ` +
        `published in ${poolDir}: clients would see a checksum mismatch. Bump the version.`,
      'publish_version_conflict',
    );
  }

  // A copy, not a link: rpmsign rewrites the file and dist/ must stay as built.
  fs.copyFileSync(rpm, target);
  return target;
}

async function applyRetention(poolDir: string, keep: number): Promise<RpmHeader[]> {
  const files = fs
    .readdirSync(poolDir)
    .filter((f) => f.endsWith('.rpm'))
    .sort();
  const entries = await Promise.all(
    files.map(async (f) => ({
      file: path.join(poolDir, f),
      header: await readRpmHeader(path.join(poolDir, f)),
    })),
  );
  const dropped = itemsBeyondRetention(
    entries,
    (e) => `${e.header.name}/${e.header.arch}`,
    (e) => e.header.evr,
    keep,
  );
  for (const e of dropped) fs.rmSync(e.file);
  return entries.filter((e) => !dropped.includes(e)).map((e) => e.header);
}

async function createRepodata(repoDir: string): Promise<void> {
  // gzip metadata: every dnf/libsolv we target reads it; no sqlite, dnf does not need it.
  const args = ['--no-database', '--general-compress-type=gz', repoDir];
  const res = await execa('createrepo_c', args, { reject: false });
  if (res.exitCode !== 0) {
    throw new OperationalError(
      `createrepo_c failed for ${repoDir}: ${res.stderr.trim()}. ` +
        'Install it (Debian package createrepo-c) and check the RPMs in the pool.',
      'createrepo',
    );
  }
}
