import type { ServerType } from './site.ts';

/**
 * The command that addresses a web server on a node, and the verbs used on it. Nodes with
 * a non-standard layout name their own prefix (`nginx -c /srv/x/nginx.conf`), and the verbs
 * are appended to it.
 */
export interface ServerControl {
  prefix: string[];
  dump: string[];
  test: string[];
  reload: string[];
}

const DEFAULTS: Record<'nginx' | 'apache', ServerControl> = {
  nginx: { prefix: ['nginx'], dump: ['-T'], test: ['-t'], reload: ['-s', 'reload'] },
  apache: { prefix: ['apachectl'], dump: ['-S'], test: ['-t'], reload: ['-k', 'graceful'] },
};

export function serverControl(server: ServerType, prefix?: string[]): ServerControl {
  if (server !== 'nginx' && server !== 'apache') {
    throw new Error(`no command-line control for ${server} servers`);
  }
  const base = DEFAULTS[server];
  return { ...base, prefix: prefix && prefix.length ? prefix : base.prefix };
}
