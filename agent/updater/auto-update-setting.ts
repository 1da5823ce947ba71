import fs from 'node:fs';
import { UsageError } from '../cli/errors.ts';
import {
  defaultInstallRoot,
  externalUpdater,
  installLayout,
  type InstallKind,
} from './install-layout.ts';

/** Install kinds the agent updates itself; the others have a package manager for that. */
export function selfUpdating(kind: InstallKind): boolean {
  return kind === 'bin' || kind === 'msi';
}

/** The install kind of this running agent, read synchronously for `config set`. */
export function installKindNow(env: NodeJS.ProcessEnv = process.env): InstallKind {
  try {
    const kind = fs.readFileSync(installLayout(defaultInstallRoot(env)).kindFile, 'utf8').trim();
    if (['bin', 'msi', 'deb', 'rpm', 'image'].includes(kind)) return kind as InstallKind;
  } catch {
    // No marker: a checkout.
  }
  return 'source';
}

/**
 * `config set auto-update on` is refused where a package manager owns the files: the
 * updater would fight it, and the package database would no longer match the disk.
 */
export function assertAutoUpdateAllowed(enable: boolean, kind: InstallKind = installKindNow()) {
  if (!enable || selfUpdating(kind)) return;
  throw new UsageError(
    `auto-update cannot be turned on for a ${kind} install; update it with ` +
      `${externalUpdater(kind)} instead`,
    'auto-update.not-allowed',
  );
}

/** Whether scheduled updates run: the setting, and only for self-updating installs. */
export function autoUpdateEffective(setting: boolean, kind: InstallKind): boolean {
  return setting && selfUpdating(kind);
}
