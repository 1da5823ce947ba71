import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLBACK_PROPERTY } from '../../packaging/msi/properties.ts';
import { compileServiceHost, MINGW_GCC } from '../../packaging/msi/service-host.ts';
import { pino } from 'pino';
import { OperationalError } from '../../agent/cli/errors.ts';
import { msiPackagePath } from '../../agent/updater/msi-packages.ts';
import {
  buildMsiUpgradeCommand,
  MSI_ROLLBACK_PROPERTY,
  type MsiUpgradeCommand,
} from '../../agent/updater/msi-upgrade.ts';
import { watchMsiUpgrade } from '../../agent/updater/msi-watch.ts';
import { loadUpdateState, updateStateFile } from '../../agent/updater/update-state.ts';
import { describeWithTools } from '../support/tools.ts';
import { createWinePrefix, keepWineUp, windowsPath, type WinePrefix } from '../support/wine.ts';
import { buildSmallMsi, msiTable } from './small-msi.ts';

const UNINSTALL_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall';

let work: string;
let hostExe: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-msi-downgrade-'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function buildMsi(version: string): Promise<string> {
  return buildSmallMsi(work, version, hostExe);
}

it('the updater and the MSI name the rollback property alike', () => {
  expect(MSI_ROLLBACK_PROPERTY).toBe(ROLLBACK_PROPERTY);
});

describeWithTools(
  'MSI downgrade only for the updater rollback',
  ['wixl', 'msiinfo', MINGW_GCC],
  () => {
    let older: string;
    let newer: string;

    beforeAll(async () => {
      hostExe = await compileServiceHost(path.join(work, 'certagent-service.exe'));
      [older, newer] = [await buildMsi('7.1.0'), await buildMsi('7.2.0')];
    });

    it('removes older and newer products, refusing newer ones unless rolling back', async () => {
      const upgrade = await msiTable(older, 'Upgrade');
      const byProperty = Object.fromEntries(upgrade.map((u) => [u.ActionProperty, u]));
      // 0x100: minimum inclusive; 0x2 (only detect) absent, so RemoveExistingProducts
      // removes the product found, older or newer.
      expect(byProperty.WIX_UPGRADE_DETECTED).toMatchObject({
        VersionMin: '0.0.0',
        VersionMax: '7.1.0',
        Attributes: '256',
      });
      expect(byProperty.WIX_DOWNGRADE_DETECTED).toMatchObject({
        VersionMin: '7.1.0',
        VersionMax: '',
        Attributes: '0',
      });
      const conditions = (await msiTable(older, 'LaunchCondition')).map((c) => c.Condition);
      expect(conditions).toContain(`NOT WIX_DOWNGRADE_DETECTED OR ${ROLLBACK_PROPERTY}="1"`);
      const sequence = (await msiTable(older, 'InstallExecuteSequence')).map((r) => r.Action);
      expect(sequence).toContain('RemoveExistingProducts');
      const secure = (await msiTable(older, 'Property')).find(
        (p) => p.Property === 'SecureCustomProperties',
      );
      expect(secure?.Value.split(';').sort()).toEqual([
        'WIX_DOWNGRADE_DETECTED',
        'WIX_UPGRADE_DETECTED',
      ]);
    });

    describeWithTools('under Wine', ['wine', 'wineserver'], () => {
      let wine: WinePrefix;

      beforeAll(async () => {
        wine = await createWinePrefix();
        await keepWineUp(wine);
      });

      afterAll(async () => {
        await wine?.dispose();
      });

      async function installedProducts(): Promise<string[]> {
        const versions: string[] = [];
        for (const msi of [older, newer]) {
          const [code] = (await msiTable(msi, 'Property'))
            .filter((p) => p.Property === 'ProductCode')
            .map((p) => p.Value);
          const entry = await wine.regQuery(`${UNINSTALL_KEY}\\${code}`);
          if (entry) versions.push(entry.DisplayVersion);
        }
        return versions;
      }

      /** The updater's own command line, run through cmd.exe for the full exit code. */
      async function msiexec(msi: string, rollback: boolean): Promise<number> {
        const log = `${msi}.${rollback ? 'rollback' : 'install'}.log`;
        const command = buildMsiUpgradeCommand(windowsPath(msi), windowsPath(log), 'C:\\Windows', {
          rollback,
        });
        return wine.msiexec(command.args);
      }

      it(
        'goes back to the older version only ' + 'with the rollback property, keeping conf',
        async () => {
          expect(
            await wine.msiexec(['/i', windowsPath(older), '/qn', 'PROPERTY_TOKEN=t-123']),
          ).toBe(0);
          const conf = path.join(wine.driveC, 'ProgramData', 'certagent', 'conf', 'agent.json');
          fs.writeFileSync(conf, '{"kept":true}\n');
          expect(await msiexec(newer, false)).toBe(0);
          expect(await installedProducts()).toEqual(['7.2.0']);

          // A plain downgrade (an administrator's mistake, a replayed old MSI) is refused.
          expect(await msiexec(older, false)).toBe(1603);
          // Wine logs no launch-condition message: the newer product was found and the install
          // stopped at LaunchConditions, before anything was removed or copied.
          const refused = fs.readFileSync(`${older}.install.log`, 'latin1');
          expect(refused).toMatch(/WIX_DOWNGRADE_DETECTED = \{/);
          expect(refused).toMatch(/Action start [^\n]*LaunchConditions/);
          expect(refused).not.toMatch(
            /Action start [^\n]*(InstallValidate|RemoveExistingProducts)/,
          );
          expect(await installedProducts()).toEqual(['7.2.0']);

          expect(await msiexec(older, true)).toBe(0);
          expect(await installedProducts()).toEqual(['7.1.0']);
          const exe = path.join(wine.driveC, 'Program Files', 'certagent', 'certagent.exe');
          expect(fs.readFileSync(exe, 'utf8')).toBe('stand-in agent 7.1.0\n');
          expect(fs.readFileSync(conf, 'utf8')).toBe('{"kept":true}\n');
        },
      );

      /** The version of the installed stand-in agent, as `status --json` would report it. */
      function installedAgent(): string | undefined {
        const exe = path.join(wine.driveC, 'Program Files', 'certagent', 'certagent.exe');
        if (!fs.existsSync(exe)) return undefined;
        return /stand-in agent (\S+)/.exec(fs.readFileSync(exe, 'utf8'))?.[1];
      }

      /** The health check of the watcher against the stand-in: `broken` versions never connect. */
      function standInHealth(broken: string[]) {
        return async (version: string, timeoutMs: number) => {
          const running = installedAgent();
          if (running === version && !broken.includes(version)) return;
          const last =
            running === version
              ? 'service not connected to the manager'
              : `reports version ${running}`;
          throw new OperationalError(
            `version ${version} did not report running and connected ` +
              `within ${timeoutMs / 1000} s (last: ${last})`,
            'update.unhealthy',
          );
        };
      }

      /** The watcher with Windows Installer under Wine, from 7.1.0 to 7.2.0. */
      async function watch(broken: string[]) {
        const base = fs.mkdtempSync(path.join(work, 'data-'));
        const msi = path.join(base, 'updates', 'certagent-7.2.0-x64.msi');
        fs.mkdirSync(path.dirname(msi), { recursive: true });
        fs.copyFileSync(newer, msi);
        const previous = msiPackagePath(base, '7.1.0');
        fs.mkdirSync(path.dirname(previous), { recursive: true });
        fs.copyFileSync(older, previous);
        const commands: MsiUpgradeCommand[] = [];
        // The Linux paths the watcher builds its command lines from, as Wine sees them.
        const toWine = (arg: string) => (arg.startsWith(work) ? windowsPath(arg) : arg);
        const result = await watchMsiUpgrade({
          msi,
          from: '7.1.0',
          to: '7.2.0',
          previousMsi: previous,
          baseDir: base,
          stateFile: updateStateFile(path.join(base, 'conf')),
          healthTimeoutMs: 1_000,
          runMsiexec: async (command) => {
            commands.push(command);
            return wine.msiexec(command.args.map(toWine));
          },
          healthCheck: standInHealth(broken),
          log: pino({ level: 'silent' }),
        });
        const state = await loadUpdateState(updateStateFile(path.join(base, 'conf')));
        return { base, result, state, commands };
      }

      it(
        'the watcher rolls a never-connecting ' + 'version back through Windows Installer',
        async () => {
          expect(await installedProducts()).toEqual(['7.1.0']);
          const run = await watch(['7.2.0']);
          expect(run.result).toBe('rolled-back');
          expect(run.commands[1].args).toContain('CERTAGENT_ROLLBACK=1');
          expect(await installedProducts()).toEqual(['7.1.0']);
          expect(installedAgent()).toBe('7.1.0');
          expect(run.state.badVersions).toEqual(['7.2.0']);
          expect(run.state.lastResult).toMatch(
            /rolled back to 7\.1\.0, running and connected again/,
          );
        },
      );

      it('the watcher keeps a healthy upgrade and its MSI', async () => {
        const run = await watch([]);
        expect(run.result).toBe('updated');
        expect(run.commands).toHaveLength(1);
        expect(await installedProducts()).toEqual(['7.2.0']);
        expect(run.state.lastResult).toBe('updated 7.1.0 -> 7.2.0 (MSI)');
        expect(fs.readFileSync(msiPackagePath(run.base, '7.2.0'))).toEqual(fs.readFileSync(newer));
      });
    });
  },
);
