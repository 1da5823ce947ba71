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
  const distDir = path.join(CACHE, await sourceKey());
  fs.mkdirSync(distDir, { recursive: true });
  const source = await pinSource(distDir);
  const args = ['sh', '-c', BUILD_SCRIPT, 'sh', distDir, formats.join(',')];
  await execa('flock', [path.join(distDir, '.lock'), ...args], {
    cwd: REPO,
    timeout: 1_500_000,
    env: {
      CI: process.env.CI ?? '',
      SOURCE_DATE_EPOCH: String(source.sourceDateEpoch),
      CERTAGENT_BUILD_COMMIT: source.commit,
    },
  });
  return { distDir, files: readManifest(distDir, formats), ...source };
}

/** The win-x64 agent single executable of the release build (`--only sea`). */
export async function releaseWindowsAgent(): Promise<string> {
  const built = await ensureArtifacts(['sea']);
  const exe = built.files.sea.find((f) => /certagent-[^/]*-win-x64\.exe$/.test(f));
  if (!exe) throw new Error(`no win-x64 agent among ${built.files.sea.join(', ')}`);
  return exe;
}

// The first caller for a source state fixes the commit and epoch every later format of it
// is stamped with, so commits landing meanwhile (other files) cannot split one set.
async function pinSource(distDir: string): Promise<{ commit: string; sourceDateEpoch: number }> {
  const file = path.join(distDir, '.source');
  if (!fs.existsSync(file)) {
    const git = (args: string[]) => execa('git', args, { cwd: REPO }).then((r) => r.stdout.trim());
    const pinned = {
      commit: await git(['rev-parse', 'HEAD']),
      sourceDateEpoch: Number(await git(['log', '-1', '--format=%ct'])),
    };
    try {
      fs.writeFileSync(file, JSON.stringify(pinned), { flag: 'wx' });
    } catch {
      // Another test file pinned it first; theirs is used.
    }
  }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// Runs under the lock: builds the formats of $2 that $1 does not hold yet, one release
// run each, and lists each format's files in .built-<format>.
const BUILD_SCRIPT = `set -eu
dist="$1"
missing=
for format in $(echo "$2" | tr ',' ' '); do
	[ -e "$dist/.built-$format" ] || missing="$missing,$format"
done
[ -n "$missing" ] || exit 0
missing="\${missing#,}"

# One release run for all missing formats: they share one single executable.
out="$dist/.work"
rm -rf "$out"
npx tsx scripts/release.ts --only "$missing" --dist "$out" >"$dist/.log" 2>&1 ||
	{ tail -30 "$dist/.log" >&2; exit 1; }
for format in $(echo "$missing" | tr ',' ' '); do
	case "$format" in
	sea) pattern='*-linux-x64 *-win-x64.exe certagent-setup*.exe' ;;
	deb) pattern='*.deb' ;;
	rpm) pattern='*.rpm' ;;
	bin) pattern='*.bin' ;;
	msi) pattern='*.msi' ;;
	oci) pattern='*-image.tar' ;;
	*) pattern="*.$format*" ;;
	esac
	(cd "$out" && for p in $pattern; do [ -e "$p" ] && echo "$p"; done) >"$dist/.built-$format.tmp"
done
# Each run's SHA256SUMS is kept as .sums-<formats> (tests check what it lists).
mv "$out/SHA256SUMS" "$dist/.sums-$missing"
for f in "$out"/*; do
	case "$(basename "$f")" in SHA256SUMS*) ;; *) mv "$f" "$dist/" ;; esac
done
rm -rf "$out"
for format in $(echo "$missing" | tr ',' ' '); do
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

// The content of every build input (tracked blobs, uncommitted diffs, untracked files), not
// the commit: commits touching only tests or docs reuse the artifacts already built.
async function sourceKey(): Promise<string> {
  const git = (args: string[]) => execa('git', args, { cwd: REPO, reject: false });
  const hash = crypto.createHash('sha256');
  hash.update((await git(['ls-files', '-s', '--', ...BUILD_INPUTS])).stdout);
  hash.update((await git(['diff', 'HEAD', '--binary', '--', ...BUILD_INPUTS])).stdout);
  const untracked = (
    await git(['ls-files', '--others', '--exclude-standard', '--', ...BUILD_INPUTS])
  ).stdout;
  for (const file of untracked.split('\n').filter(Boolean).sort()) {
    hash.update(file);
    if (fs.statSync(path.join(REPO, file), { throwIfNoEntry: false })?.isFile()) {
      hash.update(fs.readFileSync(path.join(REPO, file)));
    }
  }
  return hash.digest('hex').slice(0, 24);
}
