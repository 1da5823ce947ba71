import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

const MODULES = '/usr/lib/apache2/modules';

/** One TLS virtual host of a test Apache. */
export interface ApacheVhost {
  name: string;
  port: number;
  certFile: string;
  keyFile: string;
  chainFile?: string;
}

/** An Apache httpd the test started with its own ServerRoot, on loopback ports. */
export interface TestApache {
  root: string;
  conf: string;
  /** The command prefix that addresses this instance: `apache2 -d ROOT -f CONF`. */
  command: string[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function vhostBlock(v: ApacheVhost): string {
  return [
    `<VirtualHost 127.0.0.1:${v.port}>`,
    `  ServerName ${v.name}`,
    `  SSLEngine on`,
    `  SSLCertificateFile "${v.certFile}"`,
    `  SSLCertificateKeyFile ${v.keyFile}`,
    ...(v.chainFile ? [`  SSLCertificateChainFile ${v.chainFile}`] : []),
    `</VirtualHost>`,
    '',
  ].join('\n');
}

/**
 * Writes httpd.conf (+ one file per vhost under sites/), starts `apache2` in the
 * background and waits until every vhost port accepts connections.
 */
export async function startApache(vhosts: ApacheVhost[], dir?: string): Promise<TestApache> {
  const root = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-apache-'));
  fs.mkdirSync(path.join(root, 'sites'), { recursive: true });
  const conf = path.join(root, 'httpd.conf');
  const mods = ['mpm_event', 'authz_core', 'ssl', 'socache_shmcb'];
  const lines = [
    `ServerRoot "${root}"`,
    ...mods.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
    `PidFile ${root}/httpd.pid`,
    `ErrorLog ${root}/error.log`,
    `Mutex file:${root}`,
    `DefaultRuntimeDir ${root}`,
    `ServerName localhost`,
    `SSLSessionCache shmcb:${root}/ssl_scache(512000)`,
    ...vhosts.map((v) => `Listen 127.0.0.1:${v.port}`),
    `IncludeOptional ${root}/sites/*.conf`,
    '',
  ];
  fs.writeFileSync(conf, lines.join('\n'));
  vhosts.forEach((v, i) =>
    fs.writeFileSync(path.join(root, 'sites', `${i}-${v.name}.conf`), vhostBlock(v)),
  );

  const command = ['apache2', '-d', root, '-f', conf];
  await execa(command[0]!, [...command.slice(1), '-k', 'start']);
  await Promise.all(vhosts.map((v) => waitForPort(v.port)));
  return {
    root,
    conf,
    command,
    stop: async () => {
      await execa(command[0]!, [...command.slice(1), '-k', 'stop'], { reject: false });
      await waitForPidGone(path.join(root, 'httpd.pid'));
    },
  };
}

export async function waitForPort(port: number, host = '127.0.0.1'): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${host}:${port} after 10 s; see the server's error log`);
}

async function waitForPidGone(pidFile: string): Promise<void> {
  for (let i = 0; i < 100 && fs.existsSync(pidFile); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
}
