import path from 'node:path';
import { siteId, type ListenAddress, type Site } from './site.ts';

/** A virtual host as `apachectl -S` lists it: address, name and where it is defined. */
export interface ApacheVhostRef {
  listen: ListenAddress;
  serverName: string;
  aliases: string[];
  file: string;
  line: number;
}

export interface ApacheSummary {
  serverRoot: string;
  vhosts: ApacheVhostRef[];
}

const LOCATION = /\((.+):(\d+)\)\s*$/;

function parseAddress(spec: string): ListenAddress {
  const idx = spec.lastIndexOf(':');
  const address = spec.slice(0, idx).replace(/^\[|\]$/g, '');
  return { address: address || '*', port: Number(spec.slice(idx + 1)) };
}

/**
 * Reads `apachectl -S`. Two shapes: `ADDR:PORT name (file:line)` for a single vhost on an
 * address, and `ADDR:PORT is a NameVirtualHost` followed by indented `port N namevhost name
 * (file:line)` lines, each possibly followed by `alias X` lines.
 */
export function parseApacheSummary(output: string): ApacheSummary {
  let serverRoot = '/etc/apache2';
  const vhosts: ApacheVhostRef[] = [];
  let group: ListenAddress | undefined;
  for (const raw of output.split('\n')) {
    const line = raw.trimEnd();
    const root = /^ServerRoot: "(.*)"/.exec(line);
    if (root) serverRoot = root[1]!;
    const nameGroup = /^(\S+:\d+)\s+is a NameVirtualHost/.exec(line);
    if (nameGroup) {
      group = parseAddress(nameGroup[1]!);
      continue;
    }
    const single = /^(\S+:\d+)\s+(\S+)\s+\((.+):(\d+)\)$/.exec(line);
    if (single) {
      group = undefined;
      vhosts.push(vhost(parseAddress(single[1]!), single[2]!, single[3]!, single[4]!));
      continue;
    }
    const named = /^\s+port (\d+) namevhost (\S+)\s/.exec(line);
    const loc = LOCATION.exec(line);
    if (named && loc && group) {
      vhosts.push(vhost({ ...group, port: Number(named[1]) }, named[2]!, loc[1]!, loc[2]!));
      continue;
    }
    const alias = /^\s+alias (\S+)$/.exec(line);
    if (alias && vhosts.length) vhosts.at(-1)!.aliases.push(alias[1]!);
  }
  return { serverRoot, vhosts };
}

function vhost(listen: ListenAddress, name: string, file: string, line: string): ApacheVhostRef {
  return { listen, serverName: name, aliases: [], file, line: Number(line) };
}

interface VhostSettings {
  sslEngine: boolean;
  cert?: string;
  key?: string;
  chain?: string;
  serverName?: string;
  aliases: string[];
}

/** Reads the `<VirtualHost>` block that starts at `line` (1-based) of a config file. */
export function parseApacheVhostBlock(text: string, line: number): VhostSettings {
  const lines = joinContinuations(text.split('\n').slice(line - 1));
  const out: VhostSettings = { sslEngine: false, aliases: [] };
  // A stale line number (file edited since the server read it) must not read a random block.
  if (!/^\s*<VirtualHost\b/i.test(lines[0] ?? '')) return out;
  for (const raw of lines.slice(1)) {
    const l = raw.trim();
    if (/^<\/VirtualHost>/i.test(l)) break;
    if (l.startsWith('#') || !l) continue;
    const [name = '', ...args] = splitArgs(l);
    switch (name.toLowerCase()) {
      case 'sslengine':
        out.sslEngine = args[0]?.toLowerCase() === 'on';
        break;
      case 'sslcertificatefile':
        out.cert ??= args[0];
        break;
      case 'sslcertificatekeyfile':
        out.key ??= args[0];
        break;
      case 'sslcertificatechainfile':
        out.chain = args[0];
        break;
      case 'servername':
        out.serverName = args[0]?.replace(/^\w+:\/\//, '').replace(/:\d+$/, '');
        break;
      case 'serveralias':
        out.aliases.push(...args);
        break;
    }
  }
  return out;
}

function joinContinuations(lines: string[]): string[] {
  const out: string[] = [];
  let pending = '';
  for (const l of lines) {
    if (l.endsWith('\\')) pending += `${l.slice(0, -1)} `;
    else {
      out.push(pending + l);
      pending = '';
    }
  }
  return out;
}

function splitArgs(line: string): string[] {
  return [...line.matchAll(/"((?:\\.|[^"\\])*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/**
 * Joins the summary with each vhost's block. `readFile` returns a config file's text;
 * only vhosts with `SSLEngine on` and a certificate become sites.
 */
export function apacheSites(summary: ApacheSummary, files: Map<string, string>): Site[] {
  const sites: Site[] = [];
  const seen = new Set<string>();
  for (const ref of summary.vhosts) {
    const key = `${ref.file}:${ref.line}:${ref.listen.port}`;
    const text = files.get(ref.file);
    if (seen.has(key) || text === undefined) continue;
    seen.add(key);
    const s = parseApacheVhostBlock(text, ref.line);
    if (!s.sslEngine || !s.cert) continue;

    const names = unique([s.serverName ?? ref.serverName, ...ref.aliases, ...s.aliases]);
    const resolve = (p: string | undefined) =>
      p ? path.resolve(summary.serverRoot, p) : undefined;
    sites.push({
      id: siteId('apache', names, [ref.listen]),
      server: 'apache',
      configFile: ref.file,
      line: ref.line,
      listen: [ref.listen],
      serverNames: names,
      certPath: resolve(s.cert),
      keyPath: resolve(s.key),
      chainPath: resolve(s.chain),
    });
  }
  return sites;
}

function unique(list: string[]): string[] {
  return [...new Set(list.filter(Boolean))];
}
