import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Dispatcher } from 'undici';
import { OperationalError } from '../agent/cli/errors.ts';
import { msiexecSucceeded } from '../agent/platform/msiexec-result.ts';
import { keepInstalledMsi } from '../agent/updater/msi-packages.ts';
import { downloadVerified, fetchBounded } from '../agent/trust/bounded-download.ts';
import { checkFreshness } from '../agent/trust/freshness.ts';
import { SequenceStore } from '../agent/trust/sequence-store.ts';
import { verifyDetachedSignature } from '../agent/trust/signed-document.ts';
import {
  BootstrapUsageError,
  isSecretProperty,
  parseBootstrapArguments,
  USAGE,
  type BootstrapRequest,
} from './arguments.ts';
import { BootstrapLog } from './bootstrap-log.ts';
import { parseManifest, selectMsi, type ManifestFile } from './manifest.ts';
import {
  buildMsiexecCommand,
  describeExitCode,
  displayCommandLine,
  runMsiexec,
  spawnMsiexec,
  type ProcessRunner,
} from './msiexec.ts';
import { proxyDispatcherFor } from './proxy-dispatcher.ts';
import type { SystemProxySources } from './system-proxy.ts';
import { embeddedReleaseKeys } from '../agent/trust/release-keys.ts';
import { embeddedSource } from './release-key.ts';

/** Everything the bootstrap touches outside itself, injectable for tests. */
export interface BootstrapDeps {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  runner?: ProcessRunner;
  trustedKeys?: string[];
  defaultSource?: string;
  /** Holds the newest manifest sequence seen and the default log. */
  stateDir?: string;
  downloadDir?: string;
  arch?: string;
  now?: () => Date;
  env?: NodeJS.ProcessEnv;
  deadlineMs?: number;
  /** Replaces the proxy chosen from properties and environment. */
  dispatcher?: Dispatcher;
  /** Where the system proxy is read from (default: the real registry on Windows, else none). */
  proxySources?: SystemProxySources;
}

const MANIFEST_MAX_BYTES = 256 * 1024;
const SIGNATURE_MAX_BYTES = 64 * 1024;
const MSI_MAX_BYTES = 1024 * 1024 * 1024;
/** msiexec's own codes: bad command line, and fatal error for anything before msiexec runs. */
const EXIT_USAGE = 1639;
const EXIT_FAILED = 1603;

/** Runs the bootstrap for one command line; resolves to the process exit code. */
export async function runBootstrap(argv: string[], deps: BootstrapDeps): Promise<number> {
  let request: BootstrapRequest;
  try {
    request = parseBootstrapArguments(argv);
  } catch (err) {
    if (!(err instanceof BootstrapUsageError)) throw err;
    deps.stderr.write(`certagent-setup: ${err.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (request.action === 'help') {
    deps.stdout.write(USAGE);
    return 0;
  }

  const env = deps.env ?? process.env;
  const stateDir = deps.stateDir ?? defaultStateDir(env);
  const secrets = [...request.properties].filter(([n]) => isSecretProperty(n)).map(([, v]) => v);
  const log = new BootstrapLog(
    request.logFile ? `${request.logFile}.bootstrap.log` : path.join(stateDir, 'bootstrap.log'),
    secrets,
  );

  try {
    return await install(request, deps, stateDir, log);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error(message);
    deps.stderr.write(`certagent-setup: ${log.mask(message)}\n`);
    deps.stderr.write(`certagent-setup: nothing was installed (exit ${EXIT_FAILED})\n`);
    return EXIT_FAILED;
  }
}

async function install(
  request: BootstrapRequest,
  deps: BootstrapDeps,
  stateDir: string,
  log: BootstrapLog,
): Promise<number> {
  const source = (request.source ?? deps.defaultSource ?? embeddedSource() ?? '').replace(
    /\/+$/,
    '',
  );
  if (!/^https?:\/\//.test(source)) {
    throw new OperationalError(
      `distribution host "${source}" is not an http(s) URL; pass /source https://HOST`,
      'bootstrap.source',
    );
  }
  log.info(`${request.action} from ${source}`);
  const route = deps.dispatcher
    ? { dispatcher: deps.dispatcher, description: 'given by the caller' }
    : await proxyDispatcherFor(request.properties, source, deps.env, deps.proxySources);
  const dispatcher = route.dispatcher;
  log.info(`downloads: ${route.description}`);

  const manifest = await fetchManifest(source, deps, stateDir, dispatcher, log);
  const msi = selectMsi(manifest.document, deps.arch ?? windowsArch(deps.env), manifest.url);
  const msiPath = await downloadMsi(`${source}/windows/${msi.file}`, msi, deps, dispatcher);
  log.info(`downloaded ${msi.file} (${msi.size} bytes, sha256 ${msi.sha256} verified)`);

  const code = await runInstaller(request, msiPath, deps, log);
  if (msiexecSucceeded(code))
    await keepOrRemove(request, msiPath, manifest.document.version, stateDir, log);
  return code;
}

/**
 * After an install, the MSI goes where the updater looks for the installed version's
 * package (`<base>\packages`): a later automatic update that fails its health check can
 * then reinstall it. Not keeping it costs only that rollback, so a failure is a warning.
 */
async function keepOrRemove(
  request: BootstrapRequest,
  msiPath: string,
  version: string,
  stateDir: string,
  log: BootstrapLog,
): Promise<void> {
  if (request.action !== 'uninstall') {
    try {
      const kept = await keepInstalledMsi(path.dirname(stateDir), msiPath, version);
      log.info(`kept ${kept} for a rollback of a later automatic update`);
    } catch (err) {
      log.warn(`could not keep the installed MSI for rollbacks: ${(err as Error).message}`);
    }
  }
  await fs.rm(msiPath, { force: true });
}

async function fetchManifest(
  source: string,
  deps: BootstrapDeps,
  stateDir: string,
  dispatcher: Dispatcher | undefined,
  log: BootstrapLog,
) {
  const url = `${source}/windows/manifest.json`;
  const limits = { dispatcher, deadlineMs: deps.deadlineMs ?? 120_000 };
  const data = await fetchBounded(url, { ...limits, maxBytes: MANIFEST_MAX_BYTES });
  const signature = await fetchBounded(`${url}.asc`, { ...limits, maxBytes: SIGNATURE_MAX_BYTES });

  const signer = await verifyDetachedSignature({
    data,
    signatureArmored: signature.toString('utf8'),
    trustedKeysArmored: deps.trustedKeys ?? embeddedReleaseKeys(),
    source: url,
  });
  const document = parseManifest(data.toString('utf8'), url);

  const store = new SequenceStore(path.join(stateDir, 'state.json'));
  const newestSequence = await store.newest('windows-manifest');
  checkFreshness(document, {
    now: (deps.now ?? (() => new Date()))(),
    newestSequence,
    source: url,
  });
  await store.record('windows-manifest', document.sequence);
  log.info(
    `manifest sequence ${document.sequence} version ${document.version} signed by ${signer}`,
  );
  return { url, document };
}

async function downloadMsi(
  url: string,
  msi: ManifestFile,
  deps: BootstrapDeps,
  dispatcher: Dispatcher | undefined,
): Promise<string> {
  if (msi.size > MSI_MAX_BYTES) {
    throw new OperationalError(
      `${url}: the manifest lists ${msi.size} bytes, more than the ${MSI_MAX_BYTES} allowed`,
      'download.oversized',
    );
  }
  const dir = deps.downloadDir ?? path.join(os.tmpdir(), 'certagent-setup');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await checkPrivateDir(dir);

  // Named by hash so a partial file of another release is never resumed into this one.
  const destination = path.join(dir, `${msi.sha256.slice(0, 16)}-${path.basename(msi.file)}`);
  await downloadVerified(url, {
    destination,
    size: msi.size,
    sha256: msi.sha256,
    dispatcher,
    deadlineMs: deps.deadlineMs ?? 30 * 60_000,
  });
  return destination;
}

async function runInstaller(
  request: BootstrapRequest,
  msiPath: string,
  deps: BootstrapDeps,
  log: BootstrapLog,
): Promise<number> {
  const command = buildMsiexecCommand({
    action: request.action === 'uninstall' ? 'uninstall' : 'install',
    msiPath,
    quiet: request.quiet,
    logFile: request.logFile,
    properties: request.properties,
    systemRoot: (deps.env ?? process.env).SystemRoot,
  });
  const shown = displayCommandLine(command);
  log.info(`running ${shown}`);
  deps.stdout.write(`certagent-setup: running ${shown}\n`);

  const code = await runMsiexec(command, deps.runner ?? spawnMsiexec);
  const line = describeExitCode(code);
  log.info(line);
  (msiexecSucceeded(code) ? deps.stdout : deps.stderr).write(`certagent-setup: ${line}\n`);
  return code;
}

/**
 * The verified MSI must not be swappable before msiexec opens it: the download folder has
 * to be ours alone. Checked on POSIX (owner, no group/other write, not a link).
 * TODO: on Windows the folder's ACL is not checked; %TEMP% is per user there, which is
 * what keeps other users out.
 */
async function checkPrivateDir(dir: string): Promise<void> {
  if (process.platform === 'win32' || typeof process.getuid !== 'function') return;
  const st = await fs.lstat(dir);
  if (st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0) return;
  throw new OperationalError(
    `${dir}: the download folder is a link, owned by another user, or writable by others, ` +
      'so a verified MSI could be swapped before it runs; remove it and run again',
    'bootstrap.download-dir',
  );
}

function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const programData = env.PROGRAMDATA ?? env.ProgramData ?? 'C:\\ProgramData';
  const join = process.platform === 'win32' ? path.win32.join : path.join;
  return join(programData, 'certagent', 'bootstrap');
}

/** The machine's architecture as the manifest names it; a 32-bit process on x64 asks too. */
function windowsArch(env: NodeJS.ProcessEnv = process.env): string {
  const native = env.PROCESSOR_ARCHITEW6432 ?? env.PROCESSOR_ARCHITECTURE ?? process.arch;
  const lower = native.toLowerCase();
  if (lower === 'amd64' || lower === 'x64') return 'x64';
  if (lower === 'arm64') return 'arm64';
  return lower === 'x86' || lower === 'ia32' ? 'x86' : lower;
}
