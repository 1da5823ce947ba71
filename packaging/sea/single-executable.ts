import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { OperationalError } from '../../agent/cli/errors.ts';
import { bundleAgent, type BuildStamp } from './bundle.ts';
import { nodeRuntime } from './node-runtime.ts';
import { AGENT_RUNTIME_FLAGS } from './runtime-flags.ts';

/** The sentinel postject flips so the runtime knows a blob is embedded (Node 22). */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const POSTJECT = createRequire(import.meta.url).resolve('postject/dist/cli.js');

export interface SeaOptions {
  stamp: BuildStamp;
  nodeVersion: string;
  /** Holds the runtimes and the built executables, keyed by content. */
  cacheDir: string;
  windows: boolean;
  /** Armoured release public key compiled in for the updater (none: read from disk). */
  releaseKey?: string;
}

export interface SeaResult {
  linux: string;
  /** Unsigned; the caller signs it with its Authenticode material. */
  windowsUnsigned?: string;
  bundle: string;
}

/**
 * Builds the agent single executables: one bundle, one blob, injected into the pinned
 * linux-x64 and (optionally) win-x64 runtimes. Results are cached by the hash of the blob
 * and runtime version, so a second build of the same source reuses them.
 */
export async function buildSingleExecutables(opts: SeaOptions): Promise<SeaResult> {
  const scratch = fs.mkdtempSync(path.join(ensureDir(opts.cacheDir), 'sea-build-'));
  try {
    const bundle = await bundleAgent(
      path.join(scratch, 'certagent.cjs'),
      opts.stamp,
      opts.releaseKey,
    );
    const linuxNode = await nodeRuntime('linux-x64', opts.nodeVersion, opts.cacheDir);
    const blob = await makeBlob(linuxNode, bundle, scratch);

    const key = crypto.createHash('sha256').update(fs.readFileSync(blob));
    const outDir = ensureDir(
      path.join(opts.cacheDir, `sea-${opts.nodeVersion}-${key.digest('hex').slice(0, 16)}`),
    );
    fs.copyFileSync(bundle, path.join(outDir, 'certagent.cjs'));

    const stripped = await strippedRuntime(linuxNode);
    const linux = await injectOnce(stripped, blob, path.join(outDir, 'certagent'));
    await smokeTest(linux);
    pruneOldBuilds(opts.cacheDir, outDir);
    if (!opts.windows) return { linux, bundle: path.join(outDir, 'certagent.cjs') };

    const winNode = await nodeRuntime('win-x64', opts.nodeVersion, opts.cacheDir);
    const unsignedNode = await removeSignature(winNode, path.join(scratch, 'node.exe'));
    const windowsUnsigned = await injectOnce(
      unsignedNode,
      blob,
      path.join(outDir, 'certagent.exe'),
    );
    return { linux, windowsUnsigned, bundle: path.join(outDir, 'certagent.cjs') };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** How many past executable builds the cache keeps (each is about 200 MB). */
const KEEP_BUILDS = 4;

// Every source change makes a new cache entry; the oldest go, never the one just made.
function pruneOldBuilds(cacheDir: string, keep: string): void {
  const builds = fs
    .readdirSync(cacheDir)
    .filter((d) => d.startsWith('sea-') && !d.startsWith('sea-build-'))
    .map((d) => path.join(cacheDir, d))
    .filter((d) => d !== keep)
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  for (const old of builds.slice(KEEP_BUILDS - 1)) fs.rmSync(old, { recursive: true, force: true });
}

function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// A bundle can build fine and still fail at start (a dependency reaching for a file, a
// wasm or a worker the executable does not hold): run it, with no environment, before
// any package is made from it.
async function smokeTest(exe: string): Promise<void> {
  const res = await execa(exe, ['version', '--json'], { env: {}, extendEnv: false, reject: false });
  if (res.exitCode !== 0) {
    fs.rmSync(exe, { force: true });
    throw new OperationalError(
      `the single executable ${exe} does not start (exit ${res.exitCode}): ` +
        `${res.stderr.trim().split('\n').slice(0, 6).join('\n')}. ` +
        `Fix the bundled module named above.`,
      'sea_smoke',
    );
  }
}

/**
 * Makes the SEA preparation blob of `bundle` with the Linux runtime, in `scratch`.
 * useCodeCache stays off: a code cache is tied to the V8 of the host that made the blob,
 * and the same blob goes into the Windows runtime.
 */
export async function makeBlob(node: string, bundle: string, scratch: string): Promise<string> {
  const blob = path.join(scratch, 'sea-prep.blob');
  const config = path.join(scratch, 'sea-config.json');
  fs.writeFileSync(
    config,
    // Relative names, resolved from the scratch folder: the blob records `main` as given,
    // and a random temporary path there would make every build's bytes differ.
    JSON.stringify({
      main: path.relative(scratch, bundle),
      output: path.basename(blob),
      disableExperimentalSEAWarning: true,
      useCodeCache: false,
      useSnapshot: false,
      execArgv: AGENT_RUNTIME_FLAGS,
    }),
  );
  const res = await execa(node, ['--experimental-sea-config', config], {
    reject: false,
    env: {},
    cwd: scratch,
  });
  if (res.exitCode !== 0) {
    throw new OperationalError(
      `making the SEA blob with ${node} failed: ${res.stderr.trim()}. Delete the cached ` +
        'runtime under .cache/ and retry.',
      'sea_blob',
    );
  }
  return blob;
}

// The npm runtime keeps its symbol table (18 MB). Stripping it before the blob goes in
// is safe (postject adds its own note afterwards) and lintian asks for stripped binaries.
async function strippedRuntime(node: string): Promise<string> {
  const out = `${node}.stripped`;
  if (fs.existsSync(out)) return out;

  const tmp = `${out}.${process.pid}.tmp`;
  fs.copyFileSync(node, tmp);
  const res = await execa('strip', ['--strip-all', tmp], { reject: false });
  if (res.exitCode !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new OperationalError(
      `strip ${node} failed: ${res.stderr.trim()}. Install binutils (scripts/debian-tools.json).`,
      'sea_strip',
    );
  }
  fs.renameSync(tmp, out);
  return out;
}

/**
 * Node's own win-x64 binary carries the Node.js Authenticode signature; it would no longer
 * match once the blob is added, so it is removed before injection and replaced by ours.
 */
export async function removeSignature(exe: string, out: string): Promise<string> {
  const res = await execa('osslsigncode', ['remove-signature', '-in', exe, '-out', out], {
    reject: false,
  });
  if (res.exitCode !== 0) {
    throw new OperationalError(
      `osslsigncode remove-signature on ${exe} failed: ${res.stdout}${res.stderr}`,
      'sea_unsign',
    );
  }
  return out;
}

async function injectOnce(runtime: string, blob: string, target: string): Promise<string> {
  if (fs.existsSync(target)) return target;
  return injectBlob(runtime, blob, target);
}

/** Writes `target`: a copy of `runtime` with the blob injected by postject. */
export async function injectBlob(runtime: string, blob: string, target: string): Promise<string> {
  const tmp = `${target}.${process.pid}.tmp`;
  fs.copyFileSync(runtime, tmp);
  fs.chmodSync(tmp, 0o755);
  const args = [POSTJECT, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE];
  const res = await execa(process.execPath, args, { reject: false });
  if (res.exitCode !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new OperationalError(
      `postject could not inject the SEA blob into ${runtime}: ${res.stderr.trim()}`,
      'sea_inject',
    );
  }
  fs.renameSync(tmp, target);
  return target;
}
