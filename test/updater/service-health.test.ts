import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { statusHealthCheck } from '../../agent/updater/service-health.ts';

// The health check after a .bin update asks `current/certagent status --json`. The answer
// comes from two programs: the new CLI, and the service over its control socket. Both must
// be the new version, or a restart that left the old service running would pass.

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-health-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A layout whose `current/certagent status --json` prints `status`. */
function layoutAnswering(status: object) {
  const dir = fs.mkdtempSync(path.join(root, 'layout-'));
  const current = path.join(dir, 'current');
  fs.mkdirSync(current);
  const exe = path.join(current, 'certagent');
  fs.writeFileSync(exe, `#!/bin/sh\ncat <<'JSON'\n${JSON.stringify(status)}\nJSON\n`, {
    mode: 0o755,
  });
  return { root: dir, versions: path.join(dir, 'versions'), current, kindFile: '' };
}

describe('update health check', () => {
  it.each([
    ['the service is still the old version', { version: '1.0.0' }, /still version 1\.0\.0/],
    ['the service is not running', { running: false }, /not running/],
    ['the service is not connected', { connected: false }, /not connected/],
  ])('refuses when %s', async (_title, change, reason) => {
    const service = { running: true, connected: true, version: '2.0.0', ...change };
    const check = statusHealthCheck(layoutAnswering({ version: '2.0.0', service }), 10);
    await expect(check('2.0.0', 200)).rejects.toThrow(reason);
  });

  it(
    'asks certagent in the program folder ' + 'itself for an MSI install (no current link)',
    async () => {
      const service = { running: true, connected: true, version: '2.0.0' };
      const layout = layoutAnswering({ version: '2.0.0', service });
      const msiRoot = layout.current;
      await expect(statusHealthCheck(layout, 10, msiRoot)('2.0.0', 2_000)).resolves.toBeUndefined();

      // Between msiexec removing the old files and copying the new ones.
      fs.rmSync(path.join(msiRoot, 'certagent'));
      await expect(statusHealthCheck(layout, 10, msiRoot)('2.0.0', 200)).rejects.toThrow(
        `(last: no certagent executable in ${msiRoot})`,
      );
    },
  );

  it('accepts the new CLI with the new service running and connected', async () => {
    const service = { running: true, connected: true, version: '2.0.0' };
    const check = statusHealthCheck(layoutAnswering({ version: '2.0.0', service }), 10);
    await expect(check('2.0.0', 2_000)).resolves.toBeUndefined();
  });
});
