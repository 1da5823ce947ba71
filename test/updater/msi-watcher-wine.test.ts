import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compileServiceHost, MINGW_GCC } from '../../packaging/msi/service-host.ts';
import { msiPackagePath } from '../../agent/updater/msi-packages.ts';
import { loadUpdateState, updateStateFile } from '../../agent/updater/update-state.ts';
import { releaseWindowsAgent } from '../support/release-artifacts.ts';
import { describeWithTools } from '../support/tools.ts';
import { createWinePrefix, keepWineUp, windowsPath, type WinePrefix } from '../support/wine.ts';
import { buildSmallMsi, compileStandInAgent, msiTable } from './small-msi.ts';

const UNINSTALL_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall';
const PROGRAM_DIR = 'C:\\Program Files\\certagent';

let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-msi-watcher-'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describeWithTools(
  'the real certagent.exe as MSI update watcher, under Wine',
  ['wine', 'wineserver', 'wixl', 'msiinfo', MINGW_GCC],
  () => {
    let wine: WinePrefix;
    let watcherExe: string;
    let older: string;
    let newer: string;
    let newest: string;
    let olderAgent: string;

    beforeAll(async () => {
      watcherExe = await releaseWindowsAgent();
      const host = await compileServiceHost(path.join(work, 'certagent-service.exe'));
      // 7.1.0 answers running and connected; 7.2.0 runs but never reaches its manager.
      olderAgent = await compileStandInAgent(path.join(work, 'agent-7.1.0.exe'), '7.1.0', true);
      const newerAgent = await compileStandInAgent(
        path.join(work, 'agent-7.2.0.exe'),
        '7.2.0',
        false,
      );
      older = await buildSmallMsi(work, '7.1.0', host, olderAgent);
      newer = await buildSmallMsi(work, '7.2.0', host, newerAgent);
      const newestAgent = await compileStandInAgent(
        path.join(work, 'agent-7.3.0.exe'),
        '7.3.0',
        true,
      );
      newest = await buildSmallMsi(work, '7.3.0', host, newestAgent);
      wine = await createWinePrefix();
      await keepWineUp(wine);
      expect(await wine.msiexec(['/i', windowsPath(older), '/qn', 'PROPERTY_TOKEN=t-1'])).toBe(0);
    });

    afterAll(async () => {
      await wine?.dispose();
    });

    async function installedVersions(): Promise<string[]> {
      const versions: string[] = [];
      for (const msi of [older, newer, newest]) {
        const code = (await msiTable(msi, 'Property')).find((p) => p.Property === 'ProductCode');
        const entry = await wine.regQuery(`${UNINSTALL_KEY}\\${code?.Value}`);
        if (entry) versions.push(entry.DisplayVersion);
      }
      return versions;
    }

    /**
     * Runs one command line from a batch file: the line reaches the program as written,
     * cmd.exe records the full exit code, and Node's output goes to a file (Node under Wine
     * fails on a Unix pipe).
     */
    async function runBatch(line: string): Promise<{ code: number; output: string }> {
      const [script, out, rc] = ['cmd', 'out', 'rc'].map((ext) => path.join(work, `run.${ext}`));
      fs.writeFileSync(
        script,
        `@${line} > ${windowsPath(out)} 2>&1\r\n@echo %errorlevel% > ${windowsPath(rc)}\r\n`,
      );
      await wine.wine(['cmd', '/c', windowsPath(script)]);
      const code = fs.existsSync(rc) ? fs.readFileSync(rc, 'utf8').trim() : '';
      if (!/^-?\d+$/.test(code)) throw new Error(`${line} left no exit code in ${rc}`);
      return { code: Number(code), output: fs.readFileSync(out, 'latin1') };
    }

    /** The watcher, from a copy of the real executable as the updater makes it, from -> to. */
    async function watch(from: string, to: string, msiOfTo: string) {
      const base = fs.mkdtempSync(path.join(work, 'data-'));
      const msi = path.join(base, 'updates', `certagent-${to}-x64.msi`);
      const previous = msiPackagePath(base, from);
      fs.mkdirSync(path.dirname(msi), { recursive: true });
      fs.mkdirSync(path.dirname(previous), { recursive: true });
      fs.copyFileSync(msiOfTo, msi);
      fs.copyFileSync(older, previous);
      const watcher = path.join(base, 'updates', 'certagent-update-watcher.exe');
      fs.copyFileSync(watcherExe, watcher);

      const args = [
        ['--base-dir', windowsPath(base)],
        ['apply-msi-update', '--from', from, '--to', to, '--timeout', '5'],
        ['--msi', windowsPath(msi), '--previous-msi', windowsPath(previous)],
        ['--install-root', `"${PROGRAM_DIR}"`],
      ].flat();
      const run = await runBatch(`${windowsPath(watcher)} ${args.join(' ')}`);
      const state = await loadUpdateState(updateStateFile(path.join(base, 'conf')));
      return { ...run, state, base, msi };
    }

    it('installs 7.2.0, sees it never connect, reinstalls 7.1.0 and records it', async () => {
      const run = await watch('7.1.0', '7.2.0', newer);

      expect(run.output).toMatch(/7\.2\.0 did not start and connect/);
      expect(run.code).toBe(1);
      const { state, msi } = run;
      expect(state.lastOk).toBe(false);
      expect(state.badVersions).toEqual(['7.2.0']);
      expect(state.lastResult).toMatch(
        new RegExp(
          String.raw`^MSI upgrade 7\.1\.0 -> 7\.2\.0: 7\.2\.0 did not start and connect ` +
            String.raw`\(version 7\.2\.0 did not report running and connected within 5 s ` +
            String.raw`\(last: service not connected to the manager\)\); rolled back to ` +
            String.raw`7\.1\.0, running and connected again; 7\.2\.0 is not tried again$`,
        ),
      );
      expect(await installedVersions()).toEqual(['7.1.0']);
      const installed = path.join(wine.driveC, 'Program Files', 'certagent', 'certagent.exe');
      expect(fs.readFileSync(installed)).toEqual(fs.readFileSync(olderAgent));
      // Windows Installer's own logs of both runs, beside the downloaded MSI.
      expect(fs.existsSync(`${msi}.log`)).toBe(true);
      expect(fs.readFileSync(`${msi}.rollback.log`, 'latin1')).toMatch(/CERTAGENT_ROLLBACK/);
      expect(fs.existsSync(msi)).toBe(false);
    });

    it('installs 7.3.0, finds it connected, and keeps its MSI for the next rollback', async () => {
      const run = await watch('7.1.0', '7.3.0', newest);

      expect(run.output).toBe('updated 7.1.0 -> 7.3.0 (MSI)\n');
      expect(run.code).toBe(0);
      expect(run.state).toMatchObject({ lastOk: true, newestVersion: '7.3.0', badVersions: [] });
      expect(await installedVersions()).toEqual(['7.3.0']);
      expect(fs.readdirSync(path.join(run.base, 'packages'))).toEqual(['certagent-7.3.0-x64.msi']);
      expect(fs.readFileSync(msiPackagePath(run.base, '7.3.0'))).toEqual(fs.readFileSync(newest));
    });
  },
);
