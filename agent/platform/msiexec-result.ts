/**
 * Windows Installer exit codes after which the product is installed: success, success with
 * a restart already started (1641), and success that needs a restart to finish (3010).
 * Shared by the bootstrap's first install and the updater's upgrade watcher.
 */
export function msiexecSucceeded(code: number): boolean {
  return code === 0 || code === 3010 || code === 1641;
}
