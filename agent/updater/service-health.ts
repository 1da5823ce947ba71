import { execa } from 'execa';
import { OperationalError } from '../cli/errors.ts';
import type { HealthCheck, RestartService } from './bin-install.ts';
import type { InstallLayout } from './install-layout.ts';
import { executableIn } from './release-executable.ts';

/** Restarts the systemd unit, or the SysVinit script where systemd is not running. */
export function systemServiceRestart(unit = 'certagent'): RestartService {
  return async () => {
    const systemd = await execa('systemctl', ['is-system-running'], { reject: false });
    const args: [string, string[]] =
      systemd.exitCode === 0 || /degraded|starting/.test(String(systemd.stdout))
        ? ['systemctl', ['restart', unit]]
        : [`/etc/init.d/${unit}`, ['restart']];
    await execa(...args, { timeout: 60_000 });
  };
}

/**
 * Healthy means: `current/certagent status --json` answers, reports the new version, and
 * its service is running and connected to the manager. Polled until `timeoutMs`. An MSI
 * install has no `current`: its executable sits in the program folder itself.
 */
export function statusHealthCheck(
  layout: InstallLayout,
  pollMs = 1_000,
  programDir = layout.current,
): HealthCheck {
  return async (version, timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      last = await probe(programDir, version);
      if (last === 'healthy') return;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    throw new OperationalError(
      `version ${version} did not report running and connected within ` +
        `${Math.round(timeoutMs / 1000)} s (last: ${last})`,
      'update.unhealthy',
    );
  };
}

async function probe(programDir: string, version: string): Promise<string> {
  let executable: string;
  try {
    executable = executableIn(programDir);
  } catch {
    // Between the removal of the old files and the copy of the new ones.
    return `no certagent executable in ${programDir}`;
  }
  const result = await execa(executable, ['status', '--json'], {
    reject: false,
    timeout: 15_000,
  });
  if (result.exitCode !== 0) return `status exited ${result.exitCode}`;
  try {
    const status = JSON.parse(result.stdout) as {
      version?: string;
      service?: { running?: boolean; connected?: boolean; version?: string };
    };
    if (status.version !== version) return `reports version ${status.version}`;
    if (!status.service?.running) return 'service not running';
    // The CLI answering is the new executable; the service must be too, or the restart
    // left the old version running.
    if (status.service.version !== version) {
      return `the running service is still version ${status.service.version}`;
    }
    return status.service.connected ? 'healthy' : 'service not connected to the manager';
  } catch {
    return 'status printed no JSON';
  }
}
