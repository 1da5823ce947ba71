#!/usr/bin/env -S npx tsx
/**
 * Installs the Debian packages a purpose needs (`build`, `test`, or both). As root it runs
 * apt-get; otherwise it prints the exact apt-get line and fails, so nothing half-works.
 *
 *   npx tsx scripts/install-debian-tools.ts [--for build|test|all] [--check] [--warn-only]
 *
 * `--warn-only` (used by `npm test`) prints the missing packages and the apt-get line but
 * does not fail when it cannot install them; the suites then skip, or fail under CI=true.
 */
import { execa } from 'execa';
import fs from 'node:fs';

const lists = JSON.parse(
  fs.readFileSync(new URL('./debian-tools.json', import.meta.url), 'utf8'),
) as Record<string, string[]>;

function wanted(purpose: string): string[] {
  const names = purpose === 'all' ? [...lists.build, ...lists.test] : lists[purpose];
  if (!names) throw new Error(`unknown purpose '${purpose}': use build, test or all`);
  return [...new Set(names)];
}

async function missing(names: string[]): Promise<string[]> {
  const res = await execa('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\n', ...names], {
    reject: false,
  });
  const installed = new Set(
    res.stdout
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return names.filter((n) => !installed.has(n));
}

/** Makes sure the packages of `purpose` are installed; returns the ones it installed. */
export async function ensureDebianTools(purpose: string, checkOnly = false): Promise<string[]> {
  const absent = await missing(wanted(purpose));
  if (absent.length === 0) return [];

  const line = `apt-get install -y --no-install-recommends ${absent.join(' ')}`;
  if (checkOnly || process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages: ${absent.join(', ')}. Install them with: ${line}`);
  }
  process.stderr.write(`installing Debian packages: ${absent.join(' ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await execa('apt-get', ['update', '-q'], { env, stdio: 'inherit' });
  await execa('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...absent], {
    env,
    stdio: 'inherit',
  });
  return absent;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const forIdx = args.indexOf('--for');
  const purpose = forIdx >= 0 ? (args[forIdx + 1] ?? 'all') : 'all';
  const warnOnly = args.includes('--warn-only');
  ensureDebianTools(
    purpose,
    args.includes('--check') || (warnOnly && process.getuid?.() !== 0),
  ).catch((err: Error) => {
    process.stderr.write(`${warnOnly ? 'warning: ' : ''}${err.message}\n`);
    if (!warnOnly) process.exit(1);
  });
}
