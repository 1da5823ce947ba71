import fs from 'node:fs';
import path from 'node:path';

import { OperationalError } from '../../agent/cli/errors.ts';
import { digestFile, type FileDigest } from './file-digest.ts';
import { placeFile } from './linked-copy.ts';
import { itemsBeyondRetention } from './version-order.ts';

/** A published download whose name carries its version and architecture. */
export interface VersionedFile {
  /** Path relative to the site root, e.g. `windows/certagent-1.2.0-x64.msi`. */
  file: string;
  version: string;
  arch: string;
  digest: FileDigest;
}

export interface VersionedFilesOptions {
  buildDir: string;
  previousDir: string | null;
  /** Folder relative to the site root (`windows`, `linux`). */
  subdir: string;
  incoming: string[];
  /** Matches a file name; groups `version` and `arch`. */
  pattern: RegExp;
  keep: number;
}

/** Carries the previous downloads, adds the new ones, applies retention, lists the rest. */
export async function publishVersionedFiles(o: VersionedFilesOptions): Promise<VersionedFile[]> {
  const dir = path.join(o.buildDir, o.subdir);
  fs.mkdirSync(dir, { recursive: true });
  const previous = o.previousDir && path.join(o.previousDir, o.subdir);
  if (previous && fs.existsSync(previous)) {
    for (const name of fs.readdirSync(previous).filter((n) => o.pattern.test(n))) {
      placeFile(path.join(previous, name), path.join(dir, name));
    }
  }

  for (const file of o.incoming) await addFile(dir, file);
  const entries = await listFiles(dir, o);
  const dropped = itemsBeyondRetention(
    entries,
    (e) => e.arch,
    (e) => e.version,
    o.keep,
  );
  for (const e of dropped) fs.rmSync(path.join(o.buildDir, e.file));
  return entries.filter((e) => !dropped.includes(e));
}

async function addFile(dir: string, file: string): Promise<void> {
  const target = path.join(dir, path.basename(file));
  if (fs.existsSync(target)) {
    const [published, incoming] = await Promise.all([digestFile(target), digestFile(file)]);
    if (published.sha256 === incoming.sha256) return;
    throw new OperationalError(
      `${path.basename(file)} differs from the file of that name already published in ${dir}: ` +
        'downloads pinned to its checksum would break. Bump the version.',
      'publish_version_conflict',
    );
  }
  fs.copyFileSync(file, target);
}

async function listFiles(dir: string, o: VersionedFilesOptions): Promise<VersionedFile[]> {
  const out: VersionedFile[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const m = o.pattern.exec(name);
    if (!m?.groups?.version || !m.groups.arch) continue;
    out.push({
      file: `${o.subdir}/${name}`,
      version: m.groups.version,
      arch: m.groups.arch,
      digest: await digestFile(path.join(dir, name)),
    });
  }
  return out;
}
