import { OperationalError } from '../cli/errors.ts';
import type { Connection } from '../connections/connection.ts';
import { apacheSites, parseApacheSummary } from './apache-config.ts';
import { leafFingerprint } from './fingerprint.ts';
import { parseNginxSites } from './nginx-config.ts';
import { serverControl } from './server-control.ts';
import type { ServerType, Site } from './site.ts';

/** Which servers to look for on a node, and how to address them when not standard. */
export interface DiscoverOptions {
  servers?: ServerType[];
  /** Command prefixes per server, e.g. `{ nginx: ['nginx', '-c', '/srv/nginx.conf'] }`. */
  commands?: Partial<Record<ServerType, string[]>>;
  /** Tomcat server.xml paths to read (Tomcat has no dump command). */
  tomcatConfigs?: string[];
  sudo?: boolean;
}

/**
 * Lists the TLS sites a POSIX node serves. A server that is not installed is skipped;
 * one that is installed but whose dump fails is an error naming the command's output.
 */
export async function discoverSites(
  conn: Connection,
  options: DiscoverOptions = {},
): Promise<Site[]> {
  const servers = options.servers ?? ['nginx', 'apache', 'tomcat'];
  const sites: Site[] = [];
  if (servers.includes('nginx')) sites.push(...(await nginxSites(conn, options)));
  if (servers.includes('apache')) sites.push(...(await apacheSitesOn(conn, options)));
  if (servers.includes('tomcat') && options.tomcatConfigs?.length) {
    const { tomcatSites } = await import('./tomcat-config.ts');
    for (const file of options.tomcatConfigs) {
      const xml = (await conn.readFile(file, { sudo: options.sudo })).toString('utf8');
      sites.push(...tomcatSites(xml, file));
    }
  }
  await resolveConfigFiles(conn, sites, options.sudo);
  await addFingerprints(conn, sites, options.sudo);
  return sites;
}

async function runDump(conn: Connection, server: ServerType, options: DiscoverOptions) {
  const control = serverControl(server, options.commands?.[server]);
  // Under sudo, so that secure_path's sbin directories are searched as they will be.
  const which = await conn.exec(['sh', '-c', 'command -v "$1"', 'sh', control.prefix[0]!], {
    sudo: options.sudo,
  });
  if (which.exitCode !== 0) return null;
  const r = await conn.exec([...control.prefix, ...control.dump], { sudo: options.sudo });
  if (r.exitCode !== 0) {
    throw new OperationalError(
      `\`${[...control.prefix, ...control.dump].join(' ')}\` failed on ${conn.label}: ` +
        `${r.stderr.trim().split('\n').slice(-3).join(' ')}; fix the ${server} configuration ` +
        'or give the node the command prefix that addresses its instance',
      'node-dump-failed',
    );
  }
  return r.stdout;
}

async function nginxSites(conn: Connection, options: DiscoverOptions): Promise<Site[]> {
  const dump = await runDump(conn, 'nginx', options);
  return dump === null ? [] : parseNginxSites(dump);
}

async function apacheSitesOn(conn: Connection, options: DiscoverOptions): Promise<Site[]> {
  const out = await runDump(conn, 'apache', options);
  if (out === null) return [];
  const summary = parseApacheSummary(out);
  const files = new Map<string, string>();
  for (const file of new Set(summary.vhosts.map((v) => v.file))) {
    files.set(file, (await conn.readFile(file, { sudo: options.sudo })).toString('utf8'));
  }
  return apacheSites(summary, files);
}

// sites-enabled entries are usually symlinks; the operator edits the file they point to.
async function resolveConfigFiles(conn: Connection, sites: Site[], sudo?: boolean): Promise<void> {
  for (const site of sites) {
    const r = await conn.exec(['readlink', '-f', site.configFile], { sudo });
    if (r.exitCode === 0 && r.stdout.trim()) site.configFile = r.stdout.trim();
  }
}

async function addFingerprints(conn: Connection, sites: Site[], sudo?: boolean): Promise<void> {
  for (const site of sites) {
    if (!site.certPath || site.certPath.includes('$')) {
      site.fingerprint ??= null;
      continue;
    }
    try {
      site.fingerprint = leafFingerprint((await conn.readFile(site.certPath, { sudo })).toString());
    } catch (err) {
      site.fingerprint = null;
      site.notes = [...(site.notes ?? []), `certificate unreadable: ${(err as Error).message}`];
    }
  }
}
