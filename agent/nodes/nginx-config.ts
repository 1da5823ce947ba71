import path from 'node:path';
import { siteId, type ListenAddress, type Site } from './site.ts';

/** One directive of an nginx configuration, with its block when it has one. */
interface Directive {
  name: string;
  args: string[];
  file: string;
  line: number;
  block?: Directive[];
}

const FILE_MARKER = /^# configuration file (.+):$/;

/**
 * Splits `nginx -T` output into its files. nginx prints each file it read after a
 * `# configuration file X:` line; includes are not expanded in place, so the map lets
 * the parser follow them itself.
 */
export function splitNginxDump(dump: string): Map<string, string> {
  const files = new Map<string, string>();
  let current: string | undefined;
  let lines: string[] = [];
  for (const line of dump.split('\n')) {
    const marker = FILE_MARKER.exec(line);
    if (marker) {
      if (current !== undefined) files.set(current, lines.join('\n'));
      current = marker[1];
      lines = [];
    } else if (current !== undefined) {
      lines.push(line);
    }
  }
  if (current !== undefined) files.set(current, lines.join('\n'));
  return files;
}

interface Token {
  text: string;
  line: number;
  quoted: boolean;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /#[^\n]*|"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)'|([{};])|([^\s{};"'#][^\s{};]*)|\n/g;
  let line = 1;
  for (const m of text.matchAll(re)) {
    if (m[0] === '\n') line++;
    else if (m[0].startsWith('#')) continue;
    else if (m[1] !== undefined || m[2] !== undefined) {
      tokens.push({ text: (m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1'), line, quoted: true });
      line += (m[0].match(/\n/g) ?? []).length;
    } else tokens.push({ text: m[0], line, quoted: false });
  }
  return tokens;
}

function parseBlock(tokens: Token[], pos: { i: number }, file: string): Directive[] {
  const out: Directive[] = [];
  let words: Token[] = [];
  while (pos.i < tokens.length) {
    const t = tokens[pos.i++]!;
    if (!t.quoted && t.text === '}') return out;
    if (!t.quoted && (t.text === ';' || t.text === '{')) {
      const [name, ...args] = words;
      words = [];
      if (!name) continue;
      const d: Directive = {
        name: name.text,
        args: args.map((a) => a.text),
        file,
        line: name.line,
      };
      if (t.text === '{') d.block = parseBlock(tokens, pos, file);
      out.push(d);
    } else {
      words.push(t);
    }
  }
  return out;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** Parses the files of a dump, following `include` directives through the dump itself. */
class NginxDump {
  private readonly parsed = new Map<string, Directive[]>();
  readonly prefix: string;

  constructor(private readonly files: Map<string, string>) {
    const main = [...files.keys()][0] ?? '/etc/nginx/nginx.conf';
    this.prefix = path.dirname(main);
  }

  get mainFile(): string | undefined {
    return [...this.files.keys()][0];
  }

  directives(file: string, seen = new Set<string>()): Directive[] {
    if (seen.has(file)) return [];
    seen.add(file);
    if (!this.parsed.has(file)) {
      this.parsed.set(file, parseBlock(tokenize(this.files.get(file) ?? ''), { i: 0 }, file));
    }
    return this.expand(this.parsed.get(file)!, seen);
  }

  private expand(list: Directive[], seen: Set<string>): Directive[] {
    return list.flatMap((d) => {
      if (d.name === 'include' && d.args[0]) {
        const pattern = path.resolve(this.prefix, d.args[0]);
        const re = globToRegExp(pattern);
        const matches = [...this.files.keys()].filter((f) => re.test(f)).sort();
        return matches.flatMap((f) => this.directives(f, new Set(seen)));
      }
      return d.block ? [{ ...d, block: this.expand(d.block, seen) }] : [d];
    });
  }
}

/** Reads `listen` arguments: `443 ssl`, `[::]:443`, `127.0.0.1:8443`, `*:443`. */
export function parseNginxListen(args: string[]): (ListenAddress & { ssl: boolean }) | null {
  const spec = args[0];
  if (!spec || spec.startsWith('unix:')) return null;
  const ssl = args.includes('ssl') || args.includes('quic');
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec);
  if (v6) return { address: v6[1]!, port: Number(v6[2] ?? 80), ssl };
  if (/^\d+$/.test(spec)) return { address: '*', port: Number(spec), ssl };
  const idx = spec.lastIndexOf(':');
  if (idx > 0) return { address: spec.slice(0, idx), port: Number(spec.slice(idx + 1)), ssl };
  return { address: spec, port: 80, ssl };
}

interface Inherited {
  cert?: string;
  key?: string;
  sslOn?: boolean;
}

/** Finds the TLS server blocks of an `nginx -T` dump, http and stream alike. */
export function parseNginxSites(dump: string): Site[] {
  const nginx = new NginxDump(splitNginxDump(dump));
  const main = nginx.mainFile;
  if (!main) return [];
  const sites: Site[] = [];
  walk(nginx.directives(main), {}, sites, nginx.prefix);
  return sites;
}

function walk(list: Directive[], inherited: Inherited, sites: Site[], prefix: string): void {
  const here = { ...inherited, ...ownSslSettings(list) };
  for (const d of list) {
    if (d.name === 'server' && d.block) {
      const site = siteFromServer(d, here, prefix);
      if (site) sites.push(site);
    } else if (d.block && ['http', 'stream', 'mail'].includes(d.name)) {
      walk(d.block, here, sites, prefix);
    }
  }
}

function ownSslSettings(list: Directive[]): Inherited {
  const out: Inherited = {};
  for (const d of list) {
    if (d.name === 'ssl_certificate' && out.cert === undefined) out.cert = d.args[0];
    if (d.name === 'ssl_certificate_key' && out.key === undefined) out.key = d.args[0];
    if (d.name === 'ssl' && d.args[0] === 'on') out.sslOn = true;
  }
  return out;
}

function siteFromServer(server: Directive, inherited: Inherited, prefix: string): Site | null {
  const block = server.block ?? [];
  const own = { ...inherited, ...ownSslSettings(block) };
  const listens = block
    .filter((d) => d.name === 'listen')
    .map((d) => parseNginxListen(d.args))
    .filter((l) => l !== null);
  const tls = listens.filter((l) => l.ssl || own.sslOn);
  if (tls.length === 0 || !own.cert) return null;

  const names = block.filter((d) => d.name === 'server_name').flatMap((d) => d.args);
  const listen = tls.map(({ address, port }) => ({ address, port }));
  const notes: string[] = [];
  if (own.cert.includes('$')) notes.push(`certificate path uses a variable: ${own.cert}`);
  return {
    id: siteId('nginx', names, listen),
    server: 'nginx',
    configFile: server.file,
    line: server.line,
    listen,
    serverNames: names,
    certPath: path.resolve(prefix, own.cert),
    keyPath: own.key ? path.resolve(prefix, own.key) : undefined,
    ...(notes.length ? { notes } : {}),
  };
}
