import { spawn } from 'node:child_process';
import path from 'node:path';
import { execa } from 'execa';
import { OperationalError } from '../cli/errors.ts';

/**
 * How a process that must outlive the service is started. The Windows service host
 * (packaging/windows-service/service-host.c) runs the agent with CERTAGENT_SERVICE=1 inside
 * a kill-on-close job object, which every descendant inherits: a plain detached child dies
 * when the service stops, and Node cannot ask for CREATE_BREAKAWAY_FROM_JOB. There the
 * process is created by WMI (Win32_Process.Create), whose provider host is outside the job,
 * under the same account. Anywhere else a detached child is enough.
 */
export function launchMethod(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): 'wmi' | 'detached' {
  return platform === 'win32' && env.CERTAGENT_SERVICE === '1' ? 'wmi' : 'detached';
}

export async function startOutliving(executable: string, args: string[]): Promise<void> {
  if (launchMethod() === 'wmi') return startThroughWmi(executable, args);
  const child = spawn(executable, args, { detached: true, stdio: 'ignore', windowsHide: true });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.unref();
}

/**
 * One Windows command line. Arguments here are paths and versions the updater chose; one
 * holding a double quote could not be quoted safely and is refused.
 */
export function windowsCommandLine(executable: string, args: string[]): string {
  return [executable, ...args]
    .map((arg) => {
      if (arg.includes('"')) {
        throw new OperationalError(
          `cannot start ${path.win32.basename(executable)} with an argument holding a double ` +
            `quote (${arg}); move the data folder to a path without one`,
          'update.unquotable-argument',
        );
      }
      return arg === '' || /[\s&|<>^()]/.test(arg) ? `"${arg.replace(/(\\+)$/, '$1$1')}"` : arg;
    })
    .join(' ');
}

/** PowerShell that creates the process through WMI and exits with WMI's return value. */
export function wmiLaunchScript(commandLine: string): string {
  const literal = `'${commandLine.replace(/'/g, "''")}'`;
  return [
    '$ErrorActionPreference = "Stop"',
    `$r = Invoke-CimMethod -ClassName Win32_Process ` +
      `-MethodName Create -Arguments @{ CommandLine = ${literal} }`,
    'exit [int]$r.ReturnValue',
  ].join('; ');
}

// -EncodedCommand (UTF-16LE, base64) keeps cmd.exe and PowerShell quoting out of the way.
async function startThroughWmi(executable: string, args: string[]): Promise<void> {
  const script = wmiLaunchScript(windowsCommandLine(executable, args));
  const encoded = Buffer.from(script, 'utf16le').toString('base64');
  const result = await execa(
    'powershell.exe',
    ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encoded],
    { reject: false, timeout: 60_000, windowsHide: true },
  );
  if (result.exitCode === 0) return;
  throw new OperationalError(
    `${executable} could not be started outside the service through WMI (powershell exit ` +
      `${result.exitCode ?? 'none'}: ${(result.stderr || result.stdout).trim().slice(0, 300)}); ` +
      'the update was not installed, check that PowerShell and the WMI service run',
    'update.launch-outside-service',
  );
}
