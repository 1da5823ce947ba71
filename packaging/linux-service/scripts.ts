import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Files of the Linux service, shared by the .deb, the .rpm and the .bin. */
export const SERVICE_FILES = {
  systemdUnit: path.join(HERE, 'certagent.service'),
  sysvinitScript: path.join(HERE, 'certagent.init'),
};

/** The shared maintainer functions (maintainer.sh), to be inlined into a script. */
export function maintainerLibrary(): string {
  return fs.readFileSync(path.join(HERE, 'maintainer.sh'), 'utf8');
}

/** systemd/SysVinit start-stop functions for the .rpm and the .bin (service-control.sh). */
export function serviceControlLibrary(): string {
  return fs.readFileSync(path.join(HERE, 'service-control.sh'), 'utf8');
}

/**
 * A complete maintainer script: shebang, `set -e`, the shared functions, then `body`.
 * Inlining (rather than sourcing) keeps purge working after the files are removed.
 */
export function maintainerScript(body: string, opts: { serviceControl?: boolean } = {}): string {
  const libs = [maintainerLibrary(), opts.serviceControl ? serviceControlLibrary() : ''];
  return `#!/bin/sh\nset -e\n\n${libs.join('\n')}\n${body.trim()}\n\nexit 0\n`;
}
