#!/usr/bin/env -S npx tsx
/**
 * Publishes dist/ into the signed distribution site:
 *
 *   npm run publish -- [--to DIR] [--from DIR] [--keep N] [--base-url URL]
 *
 * Each run builds a new generation of the tree and swaps it in atomically; earlier
 * package versions stay installable unless --keep drops them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { exitCodeOf, UsageError } from '../agent/cli/errors.ts';
import { APT_CODENAMES } from '../repo-publish/apt/apt-repository.ts';
import { loadReleaseKeys } from '../repo-publish/keys/index.ts';
import { publishSite } from '../repo-publish/site/publish-site.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `Usage: npm run publish -- [--to DIR] [--from DIR] [--keep N] [--base-url URL]

  --to DIR          the site tree to create or update (default: dist/site/)
  --from DIR        artifacts from \`npm run release\` (default: dist/)
  --keep N          versions kept per package and architecture (default: 0, keep all)
  --base-url URL    where the site is served, written into linux/certagent.repo
                    (default: package.json certagent.distributionUrl)
  --codenames LIST  comma-separated APT codenames (default: ${APT_CODENAMES.join(',')})
  --help            this help

Environment: CERTAGENT_RELEASE_KEY or CERTAGENT_RELEASE_KEY_FILE (armoured private key),
CERTAGENT_RELEASE_KEY_PASSPHRASE, and CERTAGENT_RELEASE_KEY_NEXT[_FILE] during a key
rotation. Without them a cached throwaway development key signs, and says so.
`;

async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      to: { type: 'string', default: path.join(ROOT, 'dist', 'site') },
      from: { type: 'string', default: path.join(ROOT, 'dist') },
      keep: { type: 'string', default: '0' },
      'base-url': { type: 'string' },
      codenames: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }

  const keys = await loadReleaseKeys();
  const result = await publishSite({
    from: path.resolve(values.from),
    to: path.resolve(values.to),
    keep: parseKeep(values.keep),
    baseUrl: parseBaseUrl(values['base-url'] ?? defaultBaseUrl()),
    codenames: parseCodenames(values.codenames),
    keys,
    progress: (step) => process.stderr.write(`publish: ${step}\n`),
  });

  process.stdout.write(`published generation ${result.sequence} to ${path.resolve(values.to)}\n`);
  for (const fp of result.fingerprints) process.stdout.write(`signing key fingerprint: ${fp}\n`);
  if (result.development) {
    process.stdout.write('signed with a THROWAWAY development key: not for publication\n');
  }
  return 0;
}

function parseKeep(raw: string): number {
  if (!/^\d+$/.test(raw)) {
    throw new UsageError(`--keep must be a whole number of versions (0 keeps all), got "${raw}"`);
  }
  return Number.parseInt(raw, 10);
}

function parseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--base-url must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--base-url must use http or https, got "${url.protocol}"`);
  }
  return url.toString().replace(/\/+$/, '');
}

function parseCodenames(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = raw
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const unknown = list.filter((c) => !APT_CODENAMES.includes(c));
  if (list.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `--codenames accepts ${APT_CODENAMES.join(', ')}; ` +
        `unknown: ${unknown.join(', ') || '(empty)'}`,
    );
  }
  return list;
}

function defaultBaseUrl(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return String(pkg.certagent?.distributionUrl ?? '');
}

cli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`publish: ${message}\n`);
    if (process.env.CERTAGENT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(err instanceof TypeError && 'code' in err ? 2 : exitCodeOf(err));
  },
);
