import { spawn } from 'node:child_process';
import path from 'node:path';
import { isSecretProperty } from './arguments.ts';
import { quoteMsiProperty, quotePath } from './command-line.ts';

/** One argument of msiexec's command line, already quoted for Windows. */
interface CommandArgument {
  text: string;
  /** Shown as `NAME=*****` wherever the command line is displayed or logged. */
  masked?: string;
}

export interface MsiexecCommand {
  executable: string;
  args: CommandArgument[];
}

export interface MsiexecRequest {
  action: 'install' | 'uninstall';
  msiPath: string;
  quiet: boolean;
  logFile?: string;
  properties: Map<string, string>;
  /** %SystemRoot%; msiexec is run by full path so a planted msiexec.exe on PATH is not. */
  systemRoot?: string;
}

/**
 * Builds msiexec's command line. Silent runs add /norestart so the machine is never
 * rebooted behind the administrator's back (msiexec reports 3010 instead). Secret values
 * are in the real arguments only; MsiHiddenProperties in the MSI keeps them out of its log.
 */
export function buildMsiexecCommand(request: MsiexecRequest): MsiexecCommand {
  const systemRoot = request.systemRoot ?? 'C:\\Windows';
  const args: CommandArgument[] = [
    { text: request.action === 'install' ? '/i' : '/x' },
    { text: quotePath(request.msiPath) },
  ];
  if (request.quiet) args.push({ text: '/qn' }, { text: '/norestart' });
  if (request.logFile) args.push({ text: '/l*v' }, { text: quotePath(request.logFile) });

  for (const [name, value] of orderForMsiexec(request.properties)) {
    const text = quoteMsiProperty(name, value);
    args.push(isSecretProperty(name) ? { text, masked: `${name}=*****` } : { text });
  }
  return { executable: path.win32.join(systemRoot, 'System32', 'msiexec.exe'), args };
}

/**
 * Properties with a default in the MSI's Property table: only for them does an empty value
 * differ from not giving the property (packaging/msi/properties.ts, AUTOUPDATE_NOT_GIVEN).
 */
const TABLE_DEFAULTS = new Set(['PROPERTY_AUTOUPDATE']);

/**
 * Wine's msiexec reads an empty `NAME=""` as `NAME=` and takes the next argument as its
 * value (PROPERTY_AUTOUPDATE="" PROPERTY_SERVER_URL=... lost the URL). So an empty value
 * goes last, and only where it means something: an empty switch without a table default
 * is the same as leaving it out. Windows' own msiexec reads either order the same way.
 */
function orderForMsiexec(properties: Map<string, string>): Array<[string, string]> {
  const given = [...properties].filter(([, value]) => value !== '');
  const empty = [...properties].filter(([name, value]) => value === '' && TABLE_DEFAULTS.has(name));
  return [...given, ...empty];
}

/** The command line as shown to the administrator and written to the log: secrets masked. */
export function displayCommandLine(command: MsiexecCommand): string {
  const shown = command.args.map((a) => a.masked ?? a.text);
  return [quotePath(command.executable), ...shown].join(' ');
}

/** Runs a command; resolves to its exit code. Injected by tests. */
export type ProcessRunner = (executable: string, args: string[]) => Promise<number>;

/**
 * The real runner: the arguments are already quoted for msiexec, so Node must pass them
 * verbatim (its own quoting uses backslash escapes that msiexec does not read).
 */
export const spawnMsiexec: ProcessRunner = (executable, args) =>
  new Promise((resolve, reject) => {
    const child = spawn(executable, args, { stdio: 'inherit', windowsVerbatimArguments: true });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1603));
  });

export function runMsiexec(command: MsiexecCommand, runner: ProcessRunner): Promise<number> {
  return runner(
    command.executable,
    command.args.map((a) => a.text),
  );
}

const MEANINGS: Record<number, string> = {
  0: 'success',
  1601: 'the Windows Installer service could not be accessed',
  1602: 'the installation was cancelled by the user',
  1603: 'fatal error during installation (see the installer log given with /l)',
  1618: 'another installation is already in progress; retry when it has finished',
  1619: 'the installation package could not be opened',
  1620: 'the installation package is invalid',
  1625: 'the installation is forbidden by system policy',
  1633: 'this installation package is not supported on this platform',
  1638: 'another version of this product is already installed',
  1639: 'invalid command line (run with /? for usage)',
  1641: 'success; the installer has started a reboot',
  3010: 'success; a reboot is required to complete the installation',
};

/** One line saying what an msiexec exit code means. */
export function describeExitCode(code: number): string {
  const meaning = MEANINGS[code] ?? 'unknown Windows Installer result (see the installer log)';
  return `msiexec exit code ${code}: ${meaning}`;
}
