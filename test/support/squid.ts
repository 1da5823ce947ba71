import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A real squid on 127.0.0.1 with a generated configuration in its own temp dir. */
export interface Squid {
  port: number;
  dir: string;
  /** The access log's lines so far (squid writes them as requests finish). */
  accessLog(): string;
  stop(): Promise<void>;
}

export interface SquidOptions {
  /** Basic authentication with these users (htpasswd from apache2-utils). */
  basicUsers?: Record<string, string>;
  /** NTLM with squid's fake helper, which accepts any user after a complete handshake. */
  ntlm?: boolean;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function helper(name: string): string {
  const found = ['/usr/lib/squid', '/usr/lib64/squid', '/usr/libexec/squid']
    .map((d) => path.join(d, name))
    .find((p) => fs.existsSync(p));
  if (!found) throw new Error(`squid helper ${name} not found; install the squid package`);
  return found;
}

function authLines(dir: string, options: SquidOptions): string[] {
  const lines: string[] = [];
  if (options.ntlm) {
    lines.push(`auth_param ntlm program ${helper('ntlm_fake_auth')}`, 'auth_param ntlm children 2');
  }
  if (options.basicUsers) {
    lines.push(
      `auth_param basic program ${helper('basic_ncsa_auth')} ${path.join(dir, 'htpasswd')}`,
      'auth_param basic children 2',
      'auth_param basic realm certagent-test',
    );
  }
  if (options.ntlm || options.basicUsers) {
    lines.push('acl authed proxy_auth REQUIRED', 'http_access allow authed');
  } else {
    lines.push('http_access allow localhost');
  }
  return lines;
}

async function writeHtpasswd(dir: string, users: Record<string, string>): Promise<void> {
  const file = path.join(dir, 'htpasswd');
  for (const [user, password] of Object.entries(users)) {
    const create = fs.existsSync(file) ? [] : ['-c'];
    // -i reads the password from stdin, so it never appears in a process listing.
    await execa('htpasswd', [...create, '-i', '-B', file, user], { input: password });
  }
  fs.chmodSync(file, 0o644);
}

/** Starts squid in the foreground (-N) and waits until it accepts connections. */
export async function startSquid(options: SquidOptions = {}): Promise<Squid> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-squid-'));
  const port = await freePort();
  if (options.basicUsers) await writeHtpasswd(dir, options.basicUsers);
  const conf = [
    `http_port 127.0.0.1:${port}`,
    'visible_hostname certagent-test',
    `pid_filename ${dir}/squid.pid`,
    `access_log stdio:${dir}/access.log`,
    `cache_log ${dir}/cache.log`,
    `coredump_dir ${dir}`,
    'cache deny all',
    'pinger_enable off',
    'shutdown_lifetime 0 seconds',
    'logfile_rotate 0',
    ...(process.getuid?.() === 0
      ? ['cache_effective_user proxy', 'cache_effective_group proxy']
      : []),
    ...authLines(dir, options),
    'http_access deny all',
  ];
  fs.writeFileSync(path.join(dir, 'squid.conf'), `${conf.join('\n')}\n`);
  fs.chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) await execa('chown', ['-R', 'proxy:proxy', dir]);

  const proc: ResultPromise = execa('squid', ['-N', '-f', path.join(dir, 'squid.conf')], {
    reject: false,
    stdio: 'ignore',
  });
  await waitForPort(port, proc, dir);
  return {
    port,
    dir,
    accessLog: () =>
      fs.existsSync(path.join(dir, 'access.log'))
        ? fs.readFileSync(path.join(dir, 'access.log'), 'utf8')
        : '',
    stop: async () => {
      proc.kill('SIGTERM');
      await proc;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, proc: ResultPromise, dir: string): Promise<void> {
  let exited = false;
  void proc.then(() => (exited = true));
  for (let i = 0; i < 200; i++) {
    if (exited) break;
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = fs.existsSync(path.join(dir, 'cache.log'))
    ? fs.readFileSync(path.join(dir, 'cache.log'), 'utf8')
    : '';
  proc.kill('SIGKILL');
  throw new Error(`squid did not start on 127.0.0.1:${port}; cache.log:\n${log.slice(-2000)}`);
}
