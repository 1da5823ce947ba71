import fs from 'node:fs';
import path from 'node:path';

import { OperationalError } from '../../agent/cli/errors.ts';
import { APT_CODENAMES, publishAptRepository } from '../apt/apt-repository.ts';
import { publishDnfRepository } from '../dnf/dnf-repository.ts';
import { renderRepoFile } from '../dnf/repo-file.ts';
import { buildUpdateFeed } from '../feed/update-feed.ts';
import { exportPublicKeys, signDetached, type ReleaseKeys } from '../keys/index.ts';
import { assertKeyFileReadable } from '../keys/key-file-check.ts';
import { buildDownloadManifest, MSI_PATTERN } from '../windows/download-manifest.ts';
import { renderChecksums } from './checksums.ts';
import { artifactCount, findDistArtifacts } from './dist-artifacts.ts';
import { activateGeneration, startGeneration, type Generation } from './generations.ts';
import { placeFile } from './linked-copy.ts';
import { acquirePublishLock } from './publish-lock.ts';
import { publishVersionedFiles } from './versioned-files.ts';

export const BIN_PATTERN = /^certagent-(?<version>\d[^-]*)-linux-(?<arch>x64)\.bin$/;
const BOOTSTRAP_PATTERN = /^certagent-setup.*\.exe$/;

export interface PublishOptions {
  /** Artifacts from `npm run release` (dist/). */
  from: string;
  /** The site tree (dist/site/). */
  to: string;
  /** Versions kept per package and architecture; 0 keeps all. */
  keep: number;
  /** Where the site will be served; written into the .repo file. */
  baseUrl: string;
  keys: ReleaseKeys;
  codenames?: string[];
  /** Reports each step as it starts. */
  progress?: (step: string) => void;
}

export interface PublishResult {
  sequence: number;
  fingerprints: string[];
  development: boolean;
  /** Package versions now in the APT and DNF repositories. */
  debVersions: string[];
  rpmVersions: string[];
}

/** Builds the next generation of the signed site and swaps it in atomically. */
export async function publishSite(o: PublishOptions): Promise<PublishResult> {
  const artifacts = findDistArtifacts(o.from);
  const release = acquirePublishLock(o.to);
  const gen = startGeneration(o.to);
  try {
    if (!gen.previousDir && artifactCount(artifacts) === 0) {
      throw new OperationalError(
        `nothing to publish: ${o.from} holds no .deb, .rpm, .bin, .msi or bootstrap .exe ` +
          'and the site is empty. Run `npm run release` first or pass --from DIR.',
        'publish_empty',
      );
    }
    const result = await buildGeneration(o, gen, artifacts);
    o.progress?.(`activating generation ${gen.sequence}`);
    activateGeneration(o.to, gen);
    return result;
  } catch (err) {
    fs.rmSync(gen.buildDir, { recursive: true, force: true });
    throw err;
  } finally {
    release();
  }
}

async function buildGeneration(
  o: PublishOptions,
  gen: Generation,
  artifacts: ReturnType<typeof findDistArtifacts>,
): Promise<PublishResult> {
  const step = o.progress ?? (() => {});
  const base = { buildDir: gen.buildDir, previousDir: gen.previousDir, keys: o.keys, keep: o.keep };

  step('exporting the public key');
  await writeKeyFiles(gen.buildDir, o.keys);

  let debVersions: string[] = [];
  const placed = new Map<string, string>();
  for (const codename of o.codenames ?? APT_CODENAMES) {
    step(`apt repository apt-${codename}`);
    const entries = await publishAptRepository({ ...base, codename, debs: artifacts.debs, placed });
    debVersions = entries.map((e) => e.control.version);
  }

  step('dnf repository linux/rpm (signing RPMs)');
  const rpms = await publishDnfRepository({ ...base, rpms: artifacts.rpms });
  write(gen.buildDir, 'linux/certagent.repo', renderRepoFile(o.baseUrl));

  step('linux installers and windows downloads');
  const bins = await publishVersionedFiles({
    ...base,
    subdir: 'linux',
    incoming: artifacts.bins,
    pattern: BIN_PATTERN,
  });
  const msis = await publishVersionedFiles({
    ...base,
    subdir: 'windows',
    incoming: artifacts.msis,
    pattern: MSI_PATTERN,
  });
  placeBootstraps(gen, artifacts.bootstraps);

  step('signed download manifest and update feed');
  const manifest = buildDownloadManifest(msis, gen.sequence, o.keys.now);
  if (manifest) await writeSigned(gen.buildDir, 'windows/manifest.json', json(manifest), o.keys);
  const feed = buildUpdateFeed(bins, msis, gen.sequence, o.keys.now);
  if (feed) await writeSigned(gen.buildDir, 'feed/feed.json', json(feed), o.keys);

  step('SHA256SUMS over the tree');
  await writeSigned(gen.buildDir, 'SHA256SUMS', await renderChecksums(gen.buildDir), o.keys);

  return {
    sequence: gen.sequence,
    fingerprints: o.keys.signing.map((k) => k.fingerprint),
    development: o.keys.development,
    debVersions,
    rpmVersions: rpms.map((r) => r.evr),
  };
}

async function writeKeyFiles(buildDir: string, keys: ReleaseKeys): Promise<void> {
  const armored = await exportPublicKeys(keys);
  await assertKeyFileReadable(
    armored,
    keys.signing.map((k) => k.fingerprint),
  );
  write(buildDir, 'linux/apt-sign.gpg', armored);
  write(
    buildDir,
    'linux/apt-sign.fingerprint',
    keys.signing.map((k) => `${k.fingerprint}\n`).join(''),
  );
}

function placeBootstraps(gen: Generation, incoming: string[]): void {
  const dir = path.join(gen.buildDir, 'windows');
  fs.mkdirSync(dir, { recursive: true });
  const previous = gen.previousDir && path.join(gen.previousDir, 'windows');
  if (previous && fs.existsSync(previous)) {
    for (const name of fs.readdirSync(previous).filter((n) => BOOTSTRAP_PATTERN.test(n))) {
      placeFile(path.join(previous, name), path.join(dir, name));
    }
  }
  // The bootstrap has a stable name and always fetches the newest MSI: newest build wins.
  for (const file of incoming) {
    fs.rmSync(path.join(dir, path.basename(file)), { force: true });
    fs.copyFileSync(file, path.join(dir, path.basename(file)));
  }
}

async function writeSigned(
  root: string,
  rel: string,
  text: string,
  keys: ReleaseKeys,
): Promise<void> {
  write(root, rel, text);
  write(root, `${rel}.asc`, await signDetached(keys, Buffer.from(text, 'utf8')));
}

function write(root: string, rel: string, content: string): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode: 0o644 });
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
