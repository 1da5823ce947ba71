import { realpathSync } from 'node:fs';
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

/**
 * The program directory of this agent: CERTAGENT_PROGRAM_DIR when set (tests), else
 * derived from the running single executable (`<root>/versions/<v>/certagent`, or
 * `<root>\\certagent.exe` for the MSI), else the platform default. CERTAGENT_INSTALL_ROOT
 * is the installers' file-system prefix (a test chroot), as the .bin installer reads it.
 */
export function defaultInstallRoot(
  env: NodeJS.ProcessEnv = process.env,
  execPath = process.execPath,
): string {
  if (env.CERTAGENT_PROGRAM_DIR) return env.CERTAGENT_PROGRAM_DIR;
  const fromExecutable = rootOfExecutable(execPath);
  if (fromExecutable) return fromExecutable;
  if (process.platform === 'win32') {
    return path.win32.join(env.ProgramFiles ?? 'C:\\Program Files', 'certagent');
  }
  return path.join(env.CERTAGENT_INSTALL_ROOT ?? '/', 'opt', 'certagent');
}

// A checkout runs under `node`: only a certagent executable tells where it is installed.
function rootOfExecutable(execPath: string): string | undefined {
  if (!/^certagent(\.exe)?$/i.test(path.basename(execPath))) return undefined;
  let dir = path.dirname(execPath);
  try {
    dir = path.dirname(realpathSync(execPath));
  } catch {
    // Keep the path as given.
  }
  const parent = path.dirname(dir);
  return path.basename(parent) === 'versions' ? path.dirname(parent) : dir;
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
