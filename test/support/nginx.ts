import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';

/**
 * A real nginx for tests: one master in the foreground, with the given `server { ... }`
 * blocks, all state (pid, logs, temp files) under a private directory.
 */
export interface NginxOptions {
  /** Bodies of `server` blocks, e.g. `listen 127.0.0.1:8443 ssl; ssl_certificate ...;`. */
  servers: string[];
  /** Where the configuration and state go; a fresh temp directory by default. */
  dir?: string;
  /** Extra environment for nginx, e.g. OPENSSL_CONF for a legacy security level. */
  env?: Record<string, string>;
  workerProcesses?: number;
  workerConnections?: number;
  /** Lines for the main context, e.g. `worker_rlimit_nofile 8192;`. */
  mainDirectives?: string[];
}

export interface NginxServer {
  dir: string;
  configPath: string;
  /** Stops nginx and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts nginx and resolves once every `listen` address accepts connections. */
export async function startNginx(options: NginxOptions): Promise<NginxServer> {
  const dir = options.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'certagent-nginx-')));
  const configPath = path.join(dir, 'nginx.conf');
  await fs.writeFile(configPath, nginxConfig(dir, options));

  const env = { ...process.env, ...options.env };
  const check = await execa('nginx', ['-t', '-c', configPath, '-p', dir], { env, reject: false });
  if (check.exitCode !== 0) {
    throw new Error(`nginx rejected ${configPath}:\n${check.stderr}`);
  }

  const child = execa('nginx', ['-c', configPath, '-p', dir, '-g', 'daemon off;'], {
    env,
    reject: false,
    stdio: 'ignore',
  });
  try {
    // nginx writes its pid file only once every listen socket is bound; a port that is
    // taken makes it retry for seconds while the others already accept connections.
    await waitForPidFile(path.join(dir, 'nginx.pid'), child);
    await waitForListeners(listenAddresses(options.servers), child);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { dir, configPath, stop: () => stopNginx(child) };
}

/** A TCP port free on `host` right now (the kernel picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports, all held open at once while picking so none repeats. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listenOnce(host)));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function listenOnce(host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

function nginxConfig(dir: string, options: NginxOptions): string {
  // As root, nginx would switch its workers to `nobody`, who cannot read keys in a 0700
  // temp directory; keeping root is fine for a throwaway loopback server.
  const user = process.getuid?.() === 0 ? ['user root;'] : [];
  const servers = options.servers.map((body) => `  server {\n    ${body}\n  }`);
  return [
    ...user,
    `worker_processes ${options.workerProcesses ?? 1};`,
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} warn;`,
    ...(options.mainDirectives ?? []),
    `events { worker_connections ${options.workerConnections ?? 1024}; }`,
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${path.join(dir, 'body')};`,
    `  proxy_temp_path ${path.join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${path.join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${path.join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${path.join(dir, 'scgi')};`,
    '  default_type text/plain;',
    ...servers,
    '}',
    '',
  ].join('\n');
}

/** The `host:port` pairs of every `listen` directive. */
export function listenAddresses(servers: string[]): Array<{ host: string; port: number }> {
  const found = new Map<string, { host: string; port: number }>();
  for (const body of servers) {
    for (const m of body.matchAll(/listen\s+(\[[^\]]+\]|[^\s:;]+):(\d+)/g)) {
      const host = m[1]!.replace(/^\[|\]$/g, '');
      found.set(`${host}:${m[2]}`, { host, port: Number(m[2]) });
    }
  }
  return [...found.values()];
}

async function waitForPidFile(pidPath: string, child: ResultPromise): Promise<void> {
  let exited = false;
  void child.then(() => (exited = true));
  for (let attempt = 0; ; attempt++) {
    const pid = await fs.readFile(pidPath, 'utf8').catch(() => '');
    if (pid.trim() === String(child.pid)) return;
    if (exited || attempt > 400) {
      const log = await fs
        .readFile(path.join(path.dirname(pidPath), 'error.log'), 'utf8')
        .catch(() => '');
      throw new Error(
        `nginx did not start (pid file ${pidPath} missing); its error.log says:\n${log}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForListeners(
  addresses: Array<{ host: string; port: number }>,
  child: ResultPromise,
): Promise<void> {
  let exited = false;
  void child.then(() => (exited = true));
  for (const { host, port } of addresses) {
    for (let attempt = 0; !(await accepts(host, port)); attempt++) {
      if (exited || attempt > 200) {
        throw new Error(`nginx did not start listening on ${host}:${port} (see its error.log)`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stopNginx(child: ResultPromise): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGQUIT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await child;
  clearTimeout(timer);
}
