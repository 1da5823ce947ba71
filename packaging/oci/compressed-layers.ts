import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { execa } from 'execa';

/**
 * gzip level of the layers: close to -9's size on the agent executable, in half the time.
 * The compressed bytes depend on the zlib of the Node running the build, so the archive is
 * reproducible with one toolchain (the pinned Node of CI), not across Node upgrades.
 */
const GZIP_LEVEL = 6;

interface ArchiveManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/**
 * Rewrites a docker-archive with gzip-compressed layers. skopeo always writes this format
 * with uncompressed layers (the single executable alone is over 100 MiB); `docker load` and
 * `podman load` both decompress a layer file themselves, and the image config's diff_ids,
 * digests of the uncompressed layers, stay valid. The archive is written again with sorted
 * names, fixed owners and SOURCE_DATE_EPOCH times, so the same input gives the same bytes.
 */
export async function gzipArchiveLayers(archive: string, work: string, epoch: number) {
  const dir = path.join(work, 'docker-archive');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  await execa('tar', ['-xf', archive, '-C', dir]);

  const manifestFile = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as ArchiveManifestEntry[];
  const renamed = new Map<string, string>();
  for (const layer of new Set(manifest.flatMap((m) => m.Layers))) {
    renamed.set(layer, await gzipLayer(dir, layer));
  }
  for (const entry of manifest) entry.Layers = entry.Layers.map((l) => renamed.get(l) ?? l);
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  repointLegacyLinks(dir, renamed);

  await writeArchive(dir, archive, epoch);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Replaces LAYER.tar by LAYER.tar.gz (gzip without name or time) and returns the new name. */
async function gzipLayer(dir: string, layer: string): Promise<string> {
  if (layer.includes('..') || path.isAbsolute(layer)) {
    throw new Error(`oci image: skopeo wrote an unexpected layer path ${layer} in manifest.json`);
  }
  const name = `${layer}.gz`;
  await pipeline(
    fs.createReadStream(path.join(dir, layer)),
    zlib.createGzip({ level: GZIP_LEVEL }),
    fs.createWriteStream(path.join(dir, name)),
  );
  fs.rmSync(path.join(dir, layer));
  return name;
}

// The pre-manifest layout (<id>/layer.tar links) that old docker versions read: point the
// links at the compressed files, which those versions decompress as well.
function repointLegacyLinks(dir: string, renamed: Map<string, string>): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const link = path.join(dir, entry.name, 'layer.tar');
    if (!entry.isDirectory() || !fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) {
      continue;
    }
    const target = renamed.get(path.basename(fs.readlinkSync(link)));
    if (target) {
      fs.rmSync(link);
      fs.symlinkSync(`../${target}`, link);
    }
  }
}

async function writeArchive(dir: string, archive: string, epoch: number): Promise<void> {
  fs.rmSync(archive, { force: true });
  await execa('tar', [
    '--sort=name',
    `--mtime=@${epoch}`,
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mode=a+r,u+w,go-w',
    '--format=ustar',
    '-C',
    dir,
    '-cf',
    archive,
    // Top-level names as skopeo writes them (no ./ prefix), in a fixed order.
    '--',
    ...fs.readdirSync(dir).sort(),
  ]);
}
