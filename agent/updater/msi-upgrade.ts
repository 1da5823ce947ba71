import { spawn } from 'node:child_process';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';

/** msiexec for an automatic update: silent major upgrade, no reboot, verbose log. */
export interface MsiUpgradeCommand {
  executable: string;
  /** Already quoted for a Windows command line (passed verbatim). */
  args: string[];
}

/**
 * Given as 1 when the previous version's MSI is reinstalled after a failed upgrade: the
 * MSI refuses a downgrade without it (packaging/msi/properties.ts ROLLBACK_PROPERTY, the
 * same name; a test checks that they agree).
 */
export const MSI_ROLLBACK_PROPERTY = 'CERTAGENT_ROLLBACK';

/**
 * The upgrade passes no PROPERTY_*: the MSI keeps the existing configuration on a major
 * upgrade (token state, proxy, server), and a property given here would override it. A
 * rollback adds only MSI_ROLLBACK_PROPERTY=1; nothing secret is ever on this line.
 */
export function buildMsiUpgradeCommand(
  msiPath: string,
  logFile: string,
  systemRoot = 'C:\\Windows',
  options: { rollback?: boolean } = {},
): MsiUpgradeCommand {
  const rollback = options.rollback ? [`${MSI_ROLLBACK_PROPERTY}=1`] : [];
  return {
    executable: path.win32.join(systemRoot, 'System32', 'msiexec.exe'),
    args: ['/i', quote(msiPath), '/qn', '/norestart', ...rollback, '/l*v', quote(logFile)],
  };
}

function quote(file: string): string {
  return /\s/.test(file) ? `"${file}"` : file;
}

/** Runs msiexec and resolves to its exit code (0, 3010, 1603...). */
export type MsiexecRunner = (command: MsiUpgradeCommand) => Promise<number>;

// No deadline on purpose: killing msiexec in the middle of an install is worse than waiting,
// and Windows Installer ends its own transaction (1603) when it cannot go on.
export const runMsiexec: MsiexecRunner = async (command) => {
  const child = spawn(command.executable, command.args, {
    stdio: 'ignore',
    windowsHide: true,
    windowsVerbatimArguments: true,
  });
  return new Promise<number>((resolve, reject) => {
    child.once('error', (err) =>
      reject(
        new OperationalError(
          `${command.executable} could not be started (${err.message}); the update was not ` +
            'installed, check that Windows Installer is available',
          'update.msiexec-start',
          { cause: err },
        ),
      ),
    );
    child.once('exit', (code) => resolve(code ?? -1));
  });
};

/** What Windows Installer exit codes mean, for the operator reading `status`. */
const MSIEXEC_CODES: Record<number, string> = {
  0: 'success',
  1602: 'cancelled',
  1603: 'fatal error during installation',
  1618: 'another installation is already in progress',
  1619: 'the package could not be opened',
  1620: 'the package could not be opened (invalid package)',
  1625: 'forbidden by system policy',
  1638: 'another version of this product is already installed',
  1641: 'success, restart started',
  3010: 'success, a restart of Windows is needed to finish',
};

export function describeMsiexecCode(code: number): string {
  return `msiexec exit ${code} (${MSIEXEC_CODES[code] ?? 'see the msiexec log'})`;
}
