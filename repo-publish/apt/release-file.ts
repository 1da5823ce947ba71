import { sha256Of } from '../site/file-digest.ts';

export interface ReleaseFileOptions {
  codename: string;
  date: Date;
  architectures: string[];
  /** Index files relative to dists/<codename>/, with their contents. */
  indexes: Record<string, Buffer>;
}

/**
 * The Release file of one suite. Acquire-By-Hash lets apt fetch indexes by their digest,
 * so a client holding an older InRelease still finds the matching Packages after a publish.
 */
export function renderRelease(o: ReleaseFileOptions): string {
  const sums = Object.entries(o.indexes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, data]) => ` ${sha256Of(data)} ${String(data.length).padStart(8)} ${name}`);

  return [
    'Origin: certagent',
    'Label: certagent',
    `Suite: ${o.codename}`,
    `Codename: ${o.codename}`,
    `Date: ${o.date.toUTCString().replace('GMT', 'UTC')}`,
    `Architectures: ${o.architectures.join(' ')}`,
    'Components: main',
    'Description: certagent packages',
    'Acquire-By-Hash: yes',
    'SHA256:',
    ...sums,
    '',
  ].join('\n');
}
