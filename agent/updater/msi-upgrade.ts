import { spawn } from 'node:child_process';
import path from 'node:path';

/** msiexec for an automatic update: silent major upgrade, no reboot, verbose log. */
export interface MsiUpgradeCommand {
  executable: string;
  /** Already quoted for a Windows command line (passed verbatim). */
  args: string[];
}

/**
 * The upgrade passes no properties: the MSI keeps the existing configuration on a major
 * upgrade (token state, proxy, server), and a property given here would override it.
 */
export function buildMsiUpgradeCommand(
  msiPath: string,
  logFile: string,
  systemRoot = 'C:\\Windows',
): MsiUpgradeCommand {
  return {
    executable: path.win32.join(systemRoot, 'System32', 'msiexec.exe'),
    args: ['/i', quote(msiPath), '/qn', '/norestart', '/l*v', quote(logFile)],
  };
}

function quote(file: string): string {
  return /\s/.test(file) ? `"${file}"` : file;
}

/** Starts a command that must outlive the agent (msiexec stops and replaces its service). */
export type DetachedRunner = (command: MsiUpgradeCommand) => Promise<void>;

export const startDetached: DetachedRunner = async (command) => {
  const child = spawn(command.executable, command.args, {
    detached: true,
    stdio: 'ignore',
    windowsVerbatimArguments: true,
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.unref();
};
