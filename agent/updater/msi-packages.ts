import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The MSI of the installed version, kept under `%PROGRAMDATA%\certagent\packages\` so that
 * a failed upgrade can reinstall it. The updater keeps each MSI it installs there; the
 * bootstrap may put the MSI of a first install there too, under the same name.
 */
export const MSI_PACKAGES_DIR = 'packages';

/** `certagent-<version>-x64.msi`, the name the publish step gives the MSI. */
export function msiPackageName(version: string): string {
  return `certagent-${version}-x64.msi`;
}

/** `<base>\packages\certagent-<version>-x64.msi`, whether or not it exists. */
export function msiPackagePath(baseDir: string, version: string): string {
  return path.join(baseDir, MSI_PACKAGES_DIR, msiPackageName(version));
}

/** The kept MSI of `version`, or undefined when there is none to roll back to. */
export async function keptMsi(baseDir: string, version: string): Promise<string | undefined> {
  const file = msiPackagePath(baseDir, version);
  const stat = await fs.stat(file).catch(() => undefined);
  return stat?.isFile() && stat.size > 0 ? file : undefined;
}

/**
 * Keeps `msi` as the package of the now-installed `version` and removes the others: only
 * the installed version is ever a rollback target. Copied through a temporary name so a
 * crash never leaves a truncated MSI under the final name.
 */
export async function keepInstalledMsi(
  baseDir: string,
  msi: string,
  version: string,
): Promise<string> {
  const dir = path.join(baseDir, MSI_PACKAGES_DIR);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const target = msiPackagePath(baseDir, version);
  const temp = `${target}.${process.pid}.tmp`;
  await fs.copyFile(msi, temp);
  await fs.rename(temp, target);

  for (const entry of await fs.readdir(dir)) {
    if (entry !== path.basename(target) && /\.msi$/i.test(entry)) {
      await fs.rm(path.join(dir, entry), { force: true });
    }
  }
  return target;
}
