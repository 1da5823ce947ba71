import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchMethod,
  startOutliving,
  windowsCommandLine,
  wmiLaunchScript,
} from '../../agent/updater/detached-process.ts';

let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-detached-'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('starting the MSI update watcher so that it outlives the service', () => {
  const methods: Array<[NodeJS.Platform, Record<string, string>, string]> = [
    ['win32', { CERTAGENT_SERVICE: '1' }, 'wmi'],
    ['win32', {}, 'detached'],
    ['win32', { CERTAGENT_SERVICE: '0' }, 'detached'],
    ['linux', { CERTAGENT_SERVICE: '1' }, 'detached'],
  ];
  it.each(methods)('on %s with %j uses %s', (platform, env, method) => {
    expect(launchMethod(env, platform)).toBe(method);
  });

  const lines: Array<[string[], string]> = [
    [
      ['C:\\p\\w.exe', 'apply-msi-update', '--to', '1.2.3'],
      'C:\\p\\w.exe apply-msi-update --to 1.2.3',
    ],
    [
      ['C:\\Program Files\\w.exe', '--install-root', 'C:\\Program Files\\certagent\\'],
      '"C:\\Program Files\\w.exe" --install-root "C:\\Program Files\\certagent\\\\"',
    ],
    [['w.exe', '', 'a&b'], 'w.exe "" "a&b"'],
  ];
  it.each(lines)('quotes %j as a Windows command line', (args, expected) => {
    expect(windowsCommandLine(args[0], args.slice(1))).toBe(expected);
  });

  it('refuses an argument it cannot quote safely', () => {
    expect(() => windowsCommandLine('w.exe', ['--msi', 'C:\\a"b.msi'])).toThrow(
      /argument holding a double quote \(C:\\a"b\.msi\)/,
    );
  });

  it('hands the command line to WMI as one PowerShell literal', () => {
    const script = wmiLaunchScript(`"C:\\it's here\\w.exe" --to 1.2.3`);
    expect(script).toContain(`-Arguments @{ CommandLine = '"C:\\it''s here\\w.exe" --to 1.2.3' }`);
    expect(script).toMatch(/exit \[int\]\$r\.ReturnValue$/);
  });

  it('starts a detached process here, which runs after the caller went on', async () => {
    const marker = path.join(work, 'ran');
    await startOutliving('sh', ['-c', 'echo "$0" > "$1"', 'started', marker]);
    for (let i = 0; i < 100 && !fs.existsSync(marker); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(fs.readFileSync(marker, 'utf8')).toBe('started\n');
  });

  it('reports an executable that does not exist', async () => {
    await expect(startOutliving(path.join(work, 'missing'), [])).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});
