import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { OperationalError } from '../cli/errors.ts';

/** The agent executable inside an unpacked version directory. */
export function executableIn(versionDir: string): string {
  const name = process.platform === 'win32' ? 'certagent.exe' : 'certagent';
  const candidates = [path.join(versionDir, name), path.join(versionDir, 'bin', name)];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) {
    throw new OperationalError(
      `${versionDir}: the unpacked release holds no ` +
        `${name} (looked in ${candidates.join(', ')}); ` +
        'the artifact is not an agent release, nothing was changed',
      'update.not-a-release',
    );
  }
  return found;
}

/**
 * Asks an unpacked executable which version and platform it is, before anything points at
 * it: an artifact of another release or platform (mix-and-match) is refused here.
 */
export async function checkReleaseIdentity(
  versionDir: string,
  expected: { version: string; platform: string },
  timeoutMs = 30_000,
): Promise<void> {
  const exe = executableIn(versionDir);
  const result = await execa(exe, ['version', '--json'], { reject: false, timeout: timeoutMs });
  let identity: { version?: string; platform?: string } = {};
  try {
    identity = JSON.parse(result.stdout) as typeof identity;
  } catch {
    // Reported below with the exit code.
  }
  if (identity.version === expected.version && identity.platform === expected.platform) return;

  throw new OperationalError(
    `${exe}: reports ${identity.version ?? '?'} for ${identity.platform ?? '?'} (exit ` +
      `${result.exitCode ?? 'none'}), the feed promised ${expected.version} for ` +
      `${expected.platform}; refusing a mismatched artifact, nothing was changed`,
    'update.mix-and-match',
  );
}
