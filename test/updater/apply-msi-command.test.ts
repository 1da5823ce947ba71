import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUpdateState, updateStateFile } from '../../agent/updater/update-state.ts';
import { runAgentMain } from '../support/agent-main.ts';

let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-apply-msi-'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

const cli = runAgentMain;

/** The log file once `line` reached it: the file stream writes asynchronously. */
async function logText(file: string, line: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (text.includes(line)) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${file} never got "${line}"`);
}

const SECRETS = ['proxy-pw-7f3a9c', 'token-5d2e81'];

/** A data folder with a downloaded MSI, and secrets where an agent keeps them. */
function dataDir(): { base: string; msi: string } {
  const base = fs.mkdtempSync(path.join(work, 'data-'));
  const msi = path.join(base, 'updates', 'certagent-4.1.0-x64.msi');
  fs.mkdirSync(path.dirname(msi), { recursive: true });
  fs.writeFileSync(msi, 'msi of 4.1.0');
  fs.mkdirSync(path.join(base, 'conf'), { recursive: true });
  fs.writeFileSync(
    path.join(base, 'conf', 'agent.json'),
    JSON.stringify({ proxy: { host: 'p', port: 3128, password: SECRETS[0] }, token: SECRETS[1] }),
  );
  return { base, msi };
}

describe('certagent apply-msi-update (the watcher the MSI updater starts)', () => {
  it('is not in the main help, and has its own --help', async () => {
    const main = await cli(['--help']);
    expect(main.out).toMatch(/update /);
    expect(main.out).not.toMatch(/apply-msi-update/);

    const help = await cli(['apply-msi-update', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--msi <file>', '--from <version>', '--to <version>', '--previous-msi']) {
      expect(help.out).toContain(flag);
    }
    expect(help.out).toMatch(/reinstall the previous MSI/);
  });

  const bad: Array<[string, (msi: string) => string[], RegExp]> = [
    ['no --msi', () => ['--from', '4.0.0', '--to', '4.1.0'], /required option '--msi <file>'/],
    [
      'a version that is not one',
      (msi) => ['--msi', msi, '--from', '4.0.0', '--to', 'latest'],
      /--to latest is not a version/,
    ],
    [
      'an MSI that does not exist',
      (msi) => ['--msi', `${msi}.gone`, '--from', '4.0.0', '--to', '4.1.0'],
      /--msi .*\.gone: no such file/,
    ],
    [
      'a previous MSI that does not exist',
      (msi) => ['--msi', msi, '--from', '4.0.0', '--to', '4.1.0', '--previous-msi', '/nope.msi'],
      /--previous-msi \/nope\.msi: no such file/,
    ],
    [
      'a timeout of zero',
      (msi) => ['--msi', msi, '--from', '4.0.0', '--to', '4.1.0', '--timeout', '0'],
      /--timeout 0 must be a whole number of seconds/,
    ],
  ];
  it.each(bad)('refuses %s (exit 2) and records nothing', async (_title, args, message) => {
    const { base, msi } = dataDir();
    const run = await cli(['--base-dir', base, 'apply-msi-update', ...args(msi)]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(fs.existsSync(updateStateFile(path.join(base, 'conf')))).toBe(false);
  });

  it('reports an msiexec that cannot start, records it, and logs no secret', async () => {
    const { base, msi } = dataDir();
    const run = await cli([
      '--base-dir',
      base,
      'apply-msi-update',
      '--msi',
      msi,
      '--from',
      '4.0.0',
      '--to',
      '4.1.0',
      '--install-root',
      path.join(base, 'pf'),
    ]);
    // Linux has no msiexec: the start fails the way a broken Windows Installer would.
    expect(run.code).toBe(1);
    expect(run.err).toMatch(
      new RegExp(
        String.raw`msiexec\.exe could not be started \(.*\); the update was not ` +
          String.raw`installed, check that Windows Installer is available`,
      ),
    );
    const state = await loadUpdateState(updateStateFile(path.join(base, 'conf')));
    expect(state.lastOk).toBe(false);
    expect(state.lastResult).toMatch(/^MSI upgrade 4\.0\.0 -> 4\.1\.0 not installed: .*msiexec/);
    // Not the version's fault: tried again at the next check.
    expect(state.badVersions).toEqual([]);

    const log = await logText(path.join(base, 'logs', 'update.log'), 'msi upgrade starting');
    expect(log).toMatch(/"from":"4\.0\.0","to":"4\.1\.0"/);
    const written = [log, run.out, run.err, JSON.stringify(state)].join('\n');
    for (const secret of SECRETS) expect(written).not.toContain(secret);
  });
});
