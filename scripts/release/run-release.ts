import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../agent/cli/errors.ts';
import { readProductMetadata } from '../../packaging/metadata.ts';
import type { Artifact, BuildContext, SigningMaterial } from '../../packaging/packager.ts';
import { loadOrCreateDevAuthenticode } from '../../packaging/authenticode/dev-certificate.ts';
import { loadReleaseKeys, type ReleaseKeys } from '../../repo-publish/keys/index.ts';
import { ensureDebianTools } from '../install-debian-tools.ts';
import { digestArtifacts, writeSignedChecksums, type ArtifactDigest } from './checksums.ts';
import { buildExecutables } from './executables.ts';
import { ALL_FORMATS, WINDOWS_FORMATS, loadPackagers } from './packagers.ts';
import { ProgressDisplay } from './progress.ts';
import { readSourceIdentity } from './source-identity.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ReleaseOptions {
  formats?: string[];
  distDir?: string;
  /** Runtimes, SEA builds and dev signing material (default `<repo>/.cache`). */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  progress?: ProgressDisplay;
}

export interface ReleaseResult {
  distDir: string;
  digests: ArtifactDigest[];
  development: boolean;
}

/** Parses `--only a,b` into known formats; unknown names are a usage error. */
export function parseFormats(only: string | undefined): string[] {
  if (!only) return [...ALL_FORMATS];
  const wanted = only
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const unknown = wanted.filter((f) => !(ALL_FORMATS as readonly string[]).includes(f));
  if (unknown.length > 0 || wanted.length === 0) {
    throw new UsageError(
      `--only '${only}': unknown format ${unknown.join(', ') || '(none given)'}; ` +
        `choose from ${ALL_FORMATS.join(',')}`,
    );
  }
  return ALL_FORMATS.filter((f) => wanted.includes(f));
}

/**
 * The whole release: tools, source identity, single executables (once), each packager,
 * then SHA256SUMS and its signature. Every step is reported on the progress display.
 */
export async function runRelease(opts: ReleaseOptions = {}): Promise<ReleaseResult> {
  const env = opts.env ?? process.env;
  const ui = opts.progress ?? new ProgressDisplay();
  const formats = opts.formats ?? [...ALL_FORMATS];
  const cacheDir = opts.cacheDir ?? path.join(REPO_ROOT, '.cache');
  const distDir = path.resolve(opts.distDir ?? path.join(REPO_ROOT, 'dist'));
  const meta = readProductMetadata();

  const packagers = await ui.step('packagers', () => loadPackagers(formats));
  await ui.step('debian tools', () => ensureDebianTools('build'));
  const source = await ui.step('source identity', () => readSourceIdentity(REPO_ROOT, env));
  ui.note(
    `commit ${source.commit}${source.dirty ? ' (dirty tree)' : ''}, ` +
      `SOURCE_DATE_EPOCH ${source.sourceDateEpoch}`,
  );

  const keys = await ui.step('release key', () => loadKeys(env, cacheDir, ui));
  const authenticode = await ui.step('authenticode certificate', () =>
    loadOrCreateDevAuthenticode(path.join(cacheDir, 'authenticode-dev')),
  );

  fs.mkdirSync(distDir, { recursive: true });
  const workDir = fs.mkdtempSync(path.join(cacheDir, 'release-work-'));
  try {
    const executables = await ui.step('single executables', () =>
      buildExecutables({
        meta,
        stamp: {
          commit: source.commit,
          date: new Date(source.sourceDateEpoch * 1000).toISOString(),
        },
        sourceDateEpoch: source.sourceDateEpoch,
        nodeVersion: nodeRuntimeVersion(),
        cacheDir,
        workDir,
        windows: formats.some((f) => WINDOWS_FORMATS.has(f)),
        authenticode,
        // The current key only: the agent reads one embedded key. During a rotation
        // (CERTAGENT_RELEASE_KEY_NEXT) agents built now trust the current key alone; what
        // is missing is a list-valued define in agent/trust/release-keys.ts.
        releaseKey: keys.signing[0].armoredPublicKey,
        prebuiltLinuxAgent: prebuiltAgent(env),
      }),
    );
    const signing: SigningMaterial = {
      openpgpPrivateKeyArmored: keys.signing[0].armoredPrivateKey,
      openpgpPublicKeyArmored: keys.signing[0].armoredPublicKey,
      authenticodeCert: authenticode.chain,
      authenticodeKey: authenticode.key,
      development: keys.development,
    };
    const ctx: BuildContext = {
      meta,
      sourceDateEpoch: source.sourceDateEpoch,
      commit: source.commit,
      distDir,
      workDir,
      executables,
      signing,
      progress: (m) => ui.note(m),
    };

    const artifacts: Artifact[] = [];
    for (const p of packagers) artifacts.push(...(await ui.step(p.format, () => p.build(ctx))));

    const digests = await ui.step('SHA256SUMS', async () => {
      const d = await digestArtifacts(artifacts.map((a) => a.path));
      await writeSignedChecksums(distDir, d, keys);
      return d;
    });
    return { distDir, digests, development: keys.development };
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

async function loadKeys(
  env: NodeJS.ProcessEnv,
  cacheDir: string,
  ui: ProgressDisplay,
): Promise<ReleaseKeys> {
  return loadReleaseKeys({
    env,
    devKeyCacheDir: path.join(cacheDir, 'dev-keys'),
    warn: (m) => ui.note(m),
  });
}

// CERTAGENT_PREBUILT_AGENT: package this linux-x64 executable (made by an earlier
// `--only sea` run) instead of building one; ignored when a Windows format is selected.
function prebuiltAgent(env: NodeJS.ProcessEnv): string | undefined {
  const file = env.CERTAGENT_PREBUILT_AGENT;
  if (!file) return undefined;
  if (!fs.existsSync(file)) {
    throw new UsageError(
      `CERTAGENT_PREBUILT_AGENT=${file} does not exist; unset it or build it with --only sea`,
    );
  }
  return path.resolve(file);
}

function nodeRuntimeVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  return pkg.certagent.nodeRuntimeVersion;
}
