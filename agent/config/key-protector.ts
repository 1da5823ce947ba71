import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';

/**
 * Wraps the secret-box key for storage at rest (DPAPI on Windows). Both calls are synchronous
 * because the box is; both throw an OperationalError that says what to do.
 */
export interface KeyProtector {
  protect(key: Buffer): Buffer;
  unprotect(blob: Buffer): Buffer;
}

/** The service host installed beside certagent.exe, which also does DPAPI for the agent. */
export const SERVICE_HOST_NAME = 'certagent-service.exe';

/**
 * The protector of this platform: DPAPI through the service host on Windows, none elsewhere
 * (on Linux the key file is protected by its 0600 mode alone, SPEC section 3).
 */
export function platformKeyProtector(): KeyProtector | null {
  if (process.platform !== 'win32') return null;
  return serviceHostProtector(path.join(path.dirname(process.execPath), SERVICE_HOST_NAME));
}

/**
 * DPAPI (machine scope, fixed entropy) through `certagent-service.exe dpapi protect|unprotect`
 * (packaging/windows-service/service-host.c): the bytes go on stdin and come back on stdout,
 * so the key is never on a command line.
 */
export function serviceHostProtector(hostExe: string): KeyProtector {
  return {
    protect: (key) => runHost(hostExe, 'protect', key),
    unprotect: (blob) => runHost(hostExe, 'unprotect', blob),
  };
}

function runHost(hostExe: string, verb: 'protect' | 'unprotect', input: Buffer): Buffer {
  if (!fs.existsSync(hostExe)) {
    throw new OperationalError(
      `the DPAPI helper ${hostExe} is missing, so conf/secret.key cannot be ${verb}ed; ` +
        'repair the installation (msiexec /fa on the certagent MSI) to restore it',
      'secret-key-protector-missing',
    );
  }

  try {
    return execFileSync(hostExe, ['dpapi', verb], {
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
      timeout: 30_000,
      maxBuffer: 1024 * 1024,
    });
  } catch (err) {
    throw new OperationalError(
      `${hostExe} dpapi ${verb} failed: ${hostFailure(err)}`,
      'secret-key-protector',
      { cause: err },
    );
  }
}

/** The helper's one stderr line, or how it ended when it wrote none. */
function hostFailure(err: unknown): string {
  const e = err as { stderr?: Buffer; status?: number | null; code?: string; message?: string };
  const line = e.stderr?.toString('utf8').trim().split(/\r?\n/)[0];
  if (line) return line;
  if (typeof e.status === 'number') return `exit code ${e.status}`;
  return e.code ?? e.message ?? String(err);
}
