import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Packager } from '../../packaging/packager.ts';
import { seaPackager } from '../../packaging/sea/packager.ts';
import { debPackager } from '../../packaging/deb/packager.ts';
import { rpmPackager } from '../../packaging/rpm/packager.ts';
import { binPackager } from '../../packaging/makeself/packager.ts';

const PACKAGING = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../packaging');

/** Every format in build order; `--only` picks a subset. */
export const ALL_FORMATS = ['sea', 'deb', 'rpm', 'bin', 'msi', 'oci'] as const;

/** Formats that need the Windows executable. */
export const WINDOWS_FORMATS = new Set(['sea', 'msi']);

/**
 * The packagers for `formats`. MSI and OCI live in other folders (packaging/msi,
 * packaging/oci) and are found by their `packager.ts` exporting a Packager; a format whose
 * packager has not landed yet is reported rather than silently skipped.
 */
export async function loadPackagers(formats: string[]): Promise<Packager[]> {
  const builtIn: Packager[] = [seaPackager, debPackager, rpmPackager, binPackager];
  const out: Packager[] = [];
  for (const format of formats) {
    const known = builtIn.find((p) => p.format === format) ?? (await loadExternal(format));
    out.push(known);
  }
  return out;
}

async function loadExternal(format: string): Promise<Packager> {
  const file = path.join(PACKAGING, format, 'packager.ts');
  if (!fs.existsSync(file)) {
    throw new Error(`no packager for '${format}': ${file} does not exist yet; drop it from --only`);
  }
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const found = Object.values(mod).find(isPackager);
  if (!found || found.format !== format) {
    throw new Error(`${file} exports no Packager with format '${format}'`);
  }
  return found;
}

function isPackager(v: unknown): v is Packager {
  return typeof v === 'object' && v !== null && 'format' in v && 'build' in v;
}
