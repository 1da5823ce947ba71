import type { ProductMetadata } from '../packager.ts';

/** The one-line summary of the Linux packages. */
export const PACKAGE_SUMMARY = 'TLS certificate discovery and installation agent';

/**
 * The long description shared by the .deb and the .rpm: package.json's description, then
 * what the package holds. Paragraphs are separated by '' and wrapped at 72 columns,
 * under the 80 both lintian and rpmlint allow.
 */
export function packageDescription(meta: ProductMetadata): string[] {
  return [
    ...wrapText(meta.description.endsWith('.') ? meta.description : `${meta.description}.`),
    '',
    ...wrapText(
      'The agent registers once with a management server using a one-time token, then ' +
        'discovers TLS certificates on the hosts and ports it is given and installs or ' +
        'renews certificates on the web servers it manages. It ships as a single ' +
        'executable with its own Node.js runtime.',
    ),
  ];
}

export function wrapText(text: string, width = 72): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return line ? [...lines, line] : lines;
}
