import fs from 'node:fs/promises';
import path from 'node:path';

/** How this copy of the agent was installed, from the marker the installer writes. */
export type InstallKind = 'bin' | 'msi' | 'deb' | 'rpm' | 'image' | 'source';

/**
 * The program tree of a `.bin` or MSI install: `<root>/versions/<v>/` holds each unpacked
 * version, `<root>/current` links to the running one, `<root>/install-kind` names the
 * installer.
 */
export interface InstallLayout {
  root: string;
  versions: string;
  current: string;
  kindFile: string;
}

export function defaultInstallRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CERTAGENT_INSTALL_ROOT) return env.CERTAGENT_INSTALL_ROOT;
  if (process.platform === 'win32') {
    return path.win32.join(env.ProgramFiles ?? 'C:\\Program Files', 'certagent');
  }
  return '/opt/certagent';
}

export function installLayout(root: string): InstallLayout {
  return {
    root,
    versions: path.join(root, 'versions'),
    current: path.join(root, 'current'),
    kindFile: path.join(root, 'install-kind'),
  };
}

/** The install kind; a checkout or unknown tree reads as `source` (never auto-updated). */
export async function readInstallKind(layout: InstallLayout): Promise<InstallKind> {
  try {
    const kind = (await fs.readFile(layout.kindFile, 'utf8')).trim();
    if (['bin', 'msi', 'deb', 'rpm', 'image'].includes(kind)) return kind as InstallKind;
  } catch {
    // No marker: not installed by one of our installers.
  }
  return 'source';
}

/** The version `current` points at, or undefined when the link is missing. */
export async function currentVersion(layout: InstallLayout): Promise<string | undefined> {
  try {
    return path.basename(await fs.readlink(layout.current));
  } catch {
    return undefined;
  }
}

/** The package manager or mechanism that updates installs the updater leaves alone. */
export function externalUpdater(kind: InstallKind): string | undefined {
  switch (kind) {
    case 'deb':
      return 'apt (apt-get update && apt-get install certagent)';
    case 'rpm':
      return 'dnf (dnf upgrade certagent)';
    case 'image':
      return 'a newer image tag (docker pull, then recreate the container)';
    case 'source':
      return 'git and npm in the checkout';
    default:
      return undefined;
  }
}
