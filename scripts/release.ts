#!/usr/bin/env -S npx tsx
/**
 * Builds every release artifact into dist/ from this checkout:
 *
 *   npm run release [-- --only sea,deb,rpm,bin,msi,oci] [--dist DIR]
 *
 * SOURCE_DATE_EPOCH (default: the last commit's time) dates every artifact, so two builds
 * of one commit are byte-identical. Without configured keys it signs with throwaway
 * development keys and says so.
 */
import { parseArgs } from 'node:util';
import { exitCodeOf } from '../agent/cli/errors.ts';
import { parseFormats, runRelease } from './release/run-release.ts';
import { ProgressDisplay } from './release/progress.ts';
import { summaryTable } from './release/summary-table.ts';

const HELP = `Usage: npm run release [-- --only FORMATS] [--dist DIR]

  --only FORMATS   comma-separated subset of sea,deb,rpm,bin,msi,oci (default: all)
  --dist DIR       output directory (default: dist/)
  --help           this help

Environment: SOURCE_DATE_EPOCH (default: last commit time), CERTAGENT_RELEASE_KEY or
CERTAGENT_RELEASE_KEY_FILE (default: a cached throwaway development key).
`;

async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      dist: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }

  const ui = new ProgressDisplay();
  const result = await runRelease({
    formats: parseFormats(values.only),
    distDir: values.dist,
    progress: ui,
  });
  process.stdout.write(`\n${summaryTable(result.distDir, result.digests)}\n\n`);
  process.stdout.write(
    `${result.distDir}/SHA256SUMS and SHA256SUMS.asc written; total ${ui.total()}\n`,
  );
  if (result.development) {
    process.stdout.write('signed with THROWAWAY development keys: not for publication\n');
  }
  return 0;
}

cli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`release: ${message}\n`);
    if (process.env.CERTAGENT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(err instanceof TypeError && 'code' in err ? 2 : exitCodeOf(err));
  },
);
