import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const SOURCE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../windows-service');
export const SERVICE_HOST_SOURCE = path.join(SOURCE_DIR, 'service-host.c');
export const CONFIG_CMD_SOURCE = path.join(SOURCE_DIR, 'certagent-config.cmd');
export const MINGW_GCC = 'x86_64-w64-mingw32-gcc';

/**
 * Compiles the service host (packaging/windows-service/service-host.c) with mingw-w64. No PE
 * timestamp and no debug data, and the source is read from one fixed path, so the same
 * compiler gives the same bytes.
 */
export async function compileServiceHost(out: string): Promise<string> {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const args = ['-O2', '-municode', '-s', '-Wall', '-Werror', '-Wl,--no-insert-timestamp'];
  // shell32: the ProgramData folder; crypt32: CryptProtectData for `dpapi protect|unprotect`.
  const libs = ['-lshell32', '-lcrypt32'];
  const res = await execa(MINGW_GCC, [...args, '-o', out, SERVICE_HOST_SOURCE, ...libs], {
    reject: false,
  });
  if (res.exitCode !== 0) {
    throw new Error(
      `compiling the Windows service host ${SERVICE_HOST_SOURCE} failed: ${res.stderr.trim()}` +
        ' (needs Debian package gcc-mingw-w64-x86-64-win32)',
    );
  }
  return out;
}
