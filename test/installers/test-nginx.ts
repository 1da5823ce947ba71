import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { waitForPort } from '../support/apache.ts';

export interface NginxSiteSpec {
  name: string;
  port: number;
  cert: string;
  key: string;
}

/** An nginx the test starts with its own prefix, config and loopback ports. */
export interface TestNginx {
  dir: string;
  conf: string;
  /** The command prefix addressing this instance: `nginx -c CONF -e ERRLOG`. */
  command: string[];
  stop(): Promise<void>;
}

/**
 * Lays out nginx.conf with `include sites-enabled/*` where each enabled entry is a symlink
 * into sites-available, the way Debian does it, with two server blocks in one file.
 */
export async function startNginx(dir: string, sites: NginxSiteSpec[]): Promise<TestNginx> {
  for (const d of ['sites-available', 'sites-enabled', 'tmp', 'logs']) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    [
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      'events { worker_connections 64; }',
      'http {',
      `  access_log off;`,
      `  client_body_temp_path ${dir}/tmp/body;`,
      `  proxy_temp_path ${dir}/tmp/proxy;`,
      `  fastcgi_temp_path ${dir}/tmp/fastcgi;`,
      `  uwsgi_temp_path ${dir}/tmp/uwsgi;`,
      `  scgi_temp_path ${dir}/tmp/scgi;`,
      `  include ${dir}/sites-enabled/*;`,
      '}',
      '',
    ].join('\n'),
  );
  const blocks = sites.map((s) =>
    [
      'server {',
      `  listen 127.0.0.1:${s.port} ssl;`,
      `  server_name ${s.name} www.${s.name};`,
      `  ssl_certificate ${s.cert};   # full chain`,
      `  ssl_certificate_key "${s.key}";`,
      '  return 200 "ok";',
      '}',
    ].join('\n'),
  );
  const available = path.join(dir, 'sites-available', 'sites.conf');
  fs.writeFileSync(available, `${blocks.join('\n\n')}\n`);
  fs.symlinkSync(available, path.join(dir, 'sites-enabled', 'sites.conf'));

  const command = ['nginx', '-c', conf, '-e', path.join(dir, 'logs', 'error.log')];
  await execa(command[0]!, command.slice(1));
  await Promise.all(sites.map((s) => waitForPort(s.port)));
  return {
    dir,
    conf,
    command,
    stop: async () => {
      await execa(command[0]!, [...command.slice(1), '-s', 'stop'], { reject: false });
    },
  };
}
