import { execaSync } from 'execa';
import { describe } from 'vitest';

/** True when `name` is an executable on PATH (or an absolute path that exists). */
export function hasTool(name: string): boolean {
  return execaSync('sh', ['-c', `command -v "$1"`, 'sh', name], { reject: false }).exitCode === 0;
}

/**
 * `describe` for a suite that needs external tools. Outside CI a missing tool skips the
 * suite with its name in the title; under CI=true the suite fails instead, because a
 * silently skipped suite would report green for work that was never checked.
 */
export function describeWithTools(title: string, tools: string[], body: () => void): void {
  const absent = tools.filter((t) => !hasTool(t));
  if (absent.length === 0) {
    describe(title, body);
  } else if (process.env.CI === 'true') {
    describe(title, () => {
      throw new Error(`required tools missing under CI: ${absent.join(', ')}`);
    });
  } else {
    describe.skip(`${title} (missing: ${absent.join(', ')})`, body);
  }
}
