import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CACHE = path.join(REPO, '.cache', 'test-artifacts');

export interface BuiltArtifacts {
  /** The dist directory holding every artifact built so far for this source state. */
  distDir: string;
  /** Artifact paths per format (`sea`, `deb`, `rpm`, `bin`, `msi`, `oci`). */
  files: Record<string, string[]>;
  /** The commit and SOURCE_DATE_EPOCH the artifacts were built from. */
  commit: string;
  sourceDateEpoch: number;
}

/**
 * Builds the release artifacts of `formats` once per source state (commit plus a hash of
 * uncommitted changes) and returns their paths. Test files of any area call this; a
 * file lock makes parallel callers wait for the one that builds. The build is the real
 * `npm run release` (scripts/release.ts), with SOURCE_DATE_EPOCH from the last commit.
 */
export async function ensureArtifacts(formats: string[]): Promise<BuiltArtifacts> {
  const source = await sourceState();
  const distDir = path.join(CACHE, source.key);
  fs.mkdirSync(distDir, { recursive: true });
  const args = ['sh', '-c', BUILD_SCRIPT, 'sh', distDir, formats.join(',')];
  await execa('flock', [path.join(distDir, '.lock'), ...args], {
    cwd: REPO,
    timeout: 1_500_000,
    env: { CI: process.env.CI ?? '', SOURCE_DATE_EPOCH: String(source.sourceDateEpoch) },
  });
  return {
    distDir,
    files: readManifest(distDir, formats),
    commit: source.commit,
    sourceDateEpoch: source.sourceDateEpoch,
  };
}

// Runs under the lock: builds the formats of $2 that $1 does not hold yet, one release
// run each, and lists each format's files in .built-<format>.
const BUILD_SCRIPT = `set -eu
dist="$1"
for format in $(echo "$2" | tr ',' ' '); do
	[ -e "$dist/.built-$format" ] && continue
	out="$dist/.work-$format"
	rm -rf "$out"
	npx tsx scripts/release.ts --only "$format" --dist "$out" >"$dist/.log-$format" 2>&1 ||
		{ tail -30 "$dist/.log-$format" >&2; exit 1; }
	for f in "$out"/*; do
		case "$(basename "$f")" in SHA256SUMS*) continue ;; esac
		mv "$f" "$dist/"
		basename "$f"
	done >"$dist/.built-$format.tmp"
	rm -rf "$out"
	mv "$dist/.built-$format.tmp" "$dist/.built-$format"
done`;

function readManifest(distDir: string, formats: string[]): Record<string, string[]> {
  const files: Record<string, string[]> = {};
  for (const format of formats) {
    const list = path.join(distDir, `.built-${format}`);
    files[format] = fs
      .readFileSync(list, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((f) => path.join(distDir, f));
  }
  return files;
}

/** What goes into an artifact; changes elsewhere (tests, docs) need no rebuild. */
const BUILD_INPUTS = [
  'agent',
  'bootstrap',
  'protocol',
  'packaging',
  'scripts',
  'repo-publish',
  'package.json',
  'package-lock.json',
  'LICENSE',
];

// Commit plus every uncommitted change to the build inputs (tracked diffs and untracked
// files), so a test never uses artifacts built from other sources than it runs with.
async function sourceState(): Promise<{ key: string; commit: string; sourceDateEpoch: number }> {
  const git = (args: string[]) => execa('git', args, { cwd: REPO, reject: false });
  const head = (await git(['rev-parse', 'HEAD'])).stdout.trim();
  const diff = await git(['diff', 'HEAD', '--binary', '--', ...BUILD_INPUTS]);
  const hash = crypto.createHash('sha256').update(diff.stdout);
  const untracked = (
    await git(['ls-files', '--others', '--exclude-standard', '--', ...BUILD_INPUTS])
  ).stdout;
  for (const file of untracked.split('\n').filter(Boolean).sort()) {
    hash.update(file);
    if (fs.statSync(path.join(REPO, file), { throwIfNoEntry: false })?.isFile()) {
      hash.update(fs.readFileSync(path.join(REPO, file)));
    }
  }
  const epoch = Number((await git(['log', '-1', '--format=%ct'])).stdout.trim());
  const key = `${head.slice(0, 12)}-${hash.digest('hex').slice(0, 12)}`;
  return { key, commit: head, sourceDateEpoch: epoch };
}
