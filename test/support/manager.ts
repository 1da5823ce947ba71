import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';

/**
 * Helpers that drive the real entry points (bin/*.mjs under node) in child processes:
 * a manager on a free loopback port in a temp data directory, its CLI verbs, and agents
 * registered against it. Reusable by any suite that needs a manager.
 */
const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const MANAGER_BIN = path.join(ROOT, 'bin', 'certagent-manager.mjs');
export const AGENT_BIN = path.join(ROOT, 'bin', 'certagent.mjs');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ManagerProcess {
  dataDir: string;
  url: string;
  port: number;
  caPath: string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash, nothing flushed. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>;
}

/** Runs `certagent-manager ARGS`; never throws on a non-zero exit. */
export async function managerCli(args: string[]): Promise<CliResult> {
  const res = await execa('node', [MANAGER_BIN, ...args], { reject: false, stdin: 'ignore' });
  return { exitCode: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr };
}

/**
 * Runs a manager verb in this process through the same `main()` the entry point calls:
 * much faster than a child process, for suites that run many verbs.
 */
export async function managerMain(args: string[]): Promise<CliResult> {
  const { main } = await import('../../manager/cli/main.ts');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exitCode = await main(args, { stdout, stderr });
  return { exitCode, stdout: out, stderr: err };
}

/** Runs `certagent --base-dir BASE ARGS`; never throws on a non-zero exit. */
export async function agentCli(
  baseDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const res = await execa('node', [AGENT_BIN, '--base-dir', baseDir, ...args], {
    reject: false,
    stdin: 'ignore',
    env,
  });
  return { exitCode: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr };
}

/** A fresh temp directory (unique per call), removed by the caller. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `certagent-${prefix}-`));
}

/**
 * Starts `certagent-manager serve` on 127.0.0.1 (port 0 = any free one) and waits until it
 * listens.
 */
export async function startManager(
  options: { dataDir?: string; heartbeatMs?: number } = {},
): Promise<ManagerProcess> {
  const dataDir = options.dataDir ?? tempDir('manager');
  const heartbeat = String(options.heartbeatMs ?? 500);
  let child = await spawnServe(dataDir, 0, heartbeat);
  const port = child.port;

  const handle: ManagerProcess = {
    dataDir,
    port,
    url: `https://127.0.0.1:${port}`,
    caPath: path.join(dataDir, 'ca.pem'),
    async stop() {
      child.process.kill('SIGTERM');
      await child.process;
    },
    async kill() {
      child.process.kill('SIGKILL');
      await child.process;
    },
    async restart() {
      child = await spawnServe(dataDir, port, heartbeat);
    },
  };
  return handle;
}

/** Spawns `serve` on 127.0.0.1:PORT (0 = any) with extra options; resolves once it listens. */
export async function spawnServe(
  dataDir: string,
  port: number,
  heartbeat: string,
  extraArgs: string[] = [],
) {
  const proc = execa(
    'node',
    [
      MANAGER_BIN,
      'serve',
      '--data',
      dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--heartbeat-interval',
      heartbeat,
      ...extraArgs,
    ],
    { reject: false, stdin: 'ignore', buffer: false },
  );
  const bound = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    void proc.then((r) =>
      reject(new Error(`certagent-manager serve exited ${r.exitCode}: ${err}`)),
    );
  });
  return { process: proc as ResultPromise, port: bound };
}

/** `agents add` and the token it printed. */
export async function addAgent(
  dataDir: string,
  name: string,
): Promise<{ id: string; token: string }> {
  const res = await managerCli(['agents', 'add', '--data', dataDir, '--name', name, '--json']);
  if (res.exitCode !== 0) throw new Error(`agents add failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as { id: string; token: string };
}

/** `certagent register` arguments for `token` against this manager, trusting its CA. */
export function registerArgs(manager: ManagerProcess, token: string): string[] {
  return ['register', '--token', token, '--server', manager.url, '--ca', manager.caPath];
}

/** Adds an agent on the manager and registers a fresh base directory with its token. */
export async function registerNewAgent(
  manager: ManagerProcess,
  name: string,
): Promise<{ baseDir: string; token: string; id: string }> {
  const { id, token } = await addAgent(manager.dataDir, name);
  const baseDir = tempDir('agent');
  const res = await agentCli(
    baseDir,
    ['register', '--server', manager.url, '--ca', manager.caPath],
    { CERTAGENT_TOKEN: token },
  );
  if (res.exitCode !== 0) throw new Error(`register failed: ${res.stderr}`);
  return { baseDir, token, id };
}

/** Starts `certagent run` for a registered base directory. */
export function startAgent(baseDir: string): ResultPromise {
  return execa('node', [AGENT_BIN, '--base-dir', baseDir, 'run'], {
    reject: false,
    stdin: 'ignore',
  });
}

/** Polls `check` until it returns a value other than undefined/false, or fails with `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
  );
}
