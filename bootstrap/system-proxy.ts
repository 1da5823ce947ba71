import { execFile } from 'node:child_process';
import path from 'node:path';
import type { ProxyConfig } from '../agent/proxy/proxy-config.ts';

/**
 * The Windows system proxy for one URL, as a ProxyConfig (or undefined: go direct). Read in
 * the order Windows programs apply them: the user's WinINET settings (Internet Options:
 * automatic configuration script, then the manual proxy with its bypass list), then the
 * machine's WinHTTP proxy (`netsh winhttp show proxy`), then HTTPS_PROXY / HTTP_PROXY /
 * NO_PROXY. Nothing native: the registry is read through reg.exe.
 */
export interface SystemProxySources {
  /** `reg query` output of the WinINET key, or undefined when the key is absent. */
  wininet(): Promise<string | undefined>;
  /** `netsh winhttp show proxy` output, or undefined when netsh is missing or fails. */
  winhttp(): Promise<string | undefined>;
  env: NodeJS.ProcessEnv;
}

export const WININET_KEY = 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings';

/** Resolves the system proxy for `url` from the sources, first one that applies wins. */
export async function systemProxyFor(
  url: string,
  sources: SystemProxySources,
): Promise<ProxyConfig | undefined> {
  const target = new URL(url);
  const wininet = parseWininet((await sources.wininet()) ?? '');
  if (wininet.pacUrl) return { pacUrl: wininet.pacUrl };
  if (wininet.server) return manualProxy(target, wininet.server, wininet.bypass);

  const winhttp = parseWinhttp((await sources.winhttp()) ?? '');
  if (winhttp.server) return manualProxy(target, winhttp.server, winhttp.bypass);

  return envProxy(target, sources.env);
}

interface ManualSettings {
  pacUrl?: string;
  server?: string;
  bypass?: string;
}

/** The values of `reg query` on the WinINET key that choose a proxy. */
export function parseWininet(output: string): ManualSettings {
  const values: Record<string, string> = {};
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s{2,}(\S.*?)\s+REG_[A-Z_]+(?:\s+(.*))?$/.exec(line);
    if (m) values[m[1].toLowerCase()] = (m[2] ?? '').trim();
  }
  const enabled = Number(values.proxyenable ?? '0') !== 0;
  return {
    pacUrl: values.autoconfigurl || undefined,
    server: enabled ? values.proxyserver || undefined : undefined,
    bypass: values.proxyoverride,
  };
}

/** `Proxy Server(s) : ...` and `Bypass List : ...` of netsh; "Direct access" has neither. */
export function parseWinhttp(output: string): ManualSettings {
  const field = (name: string) =>
    new RegExp(`^\\s*${name}\\s*:\\s*(.*?)\\s*$`, 'im').exec(output)?.[1] || undefined;
  return { server: field('Proxy Server\\(s\\)'), bypass: field('Bypass List') };
}

/**
 * The proxy a ProxyServer value names for the URL's scheme: `host:port` serves every
 * scheme; `http=h:p;https=h:p` one each, a scheme not listed goes direct (as in WinINET).
 */
function manualProxy(target: URL, server: string, bypass = ''): ProxyConfig | undefined {
  if (bypassed(target.hostname, bypass.split(';'), true)) return undefined;
  const scheme = target.protocol.replace(/:$/, '');
  const entries = server.split(/[;\s]+/).filter(Boolean);
  const perScheme = entries.find((e) => e.toLowerCase().startsWith(`${scheme}=`));
  const common = entries.find((e) => !e.includes('='));
  const chosen = perScheme ? perScheme.slice(scheme.length + 1) : common;
  return chosen ? hostPort(chosen) : undefined;
}

/** HTTPS_PROXY (for https) or HTTP_PROXY, unless NO_PROXY names the host. */
function envProxy(target: URL, env: NodeJS.ProcessEnv): ProxyConfig | undefined {
  const value =
    target.protocol === 'https:'
      ? (env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy)
      : (env.HTTP_PROXY ?? env.http_proxy);
  if (!value) return undefined;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '').split(/[,\s]+/);
  if (bypassed(target.hostname, noProxy, false)) return undefined;
  return hostPort(value);
}

/** `host:port`, `http://user:pass@host:port`; the port defaults to 8080 as elsewhere. */
function hostPort(value: string): ProxyConfig | undefined {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    return undefined;
  }
  if (!url.hostname) return undefined;
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    // URL drops a port equal to its scheme's default (http://h:80), so read it from the text.
    port: Number(url.port || /:(\d{1,5})\/?$/.exec(value)?.[1]) || 8080,
    user: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

/**
 * Whether a bypass list names the host. WinINET's list uses `*` wildcards and `<local>`
 * (names without a dot); NO_PROXY uses suffixes (`.corp`, `corp`) and `*`.
 */
export function bypassed(host: string, entries: string[], wininet: boolean): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return entries
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean)
    .some((entry) => {
      if (entry === '*') return true;
      if (wininet && entry === '<local>') return !name.includes('.') && !name.includes(':');
      if (wininet || entry.includes('*')) return wildcard(entry).test(name);
      const suffix = entry.replace(/^\*?\.?/, '');
      return name === suffix || name.endsWith(`.${suffix}`);
    });
}

function wildcard(pattern: string): RegExp {
  // The scheme and port some lists carry (http://host:80) are not part of the name.
  const bare = pattern.replace(/^[a-z]+:\/\//, '').replace(/:\d+$/, '');
  const body = bare.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${body}$`);
}

/** The real sources on Windows: reg.exe and netsh.exe from System32, by full path. */
export function windowsProxySources(env: NodeJS.ProcessEnv): SystemProxySources {
  const system32 = path.win32.join(env.SystemRoot ?? 'C:\\Windows', 'System32');
  return {
    wininet: () => capture(path.win32.join(system32, 'reg.exe'), ['query', WININET_KEY]),
    winhttp: () => capture(path.win32.join(system32, 'netsh.exe'), ['winhttp', 'show', 'proxy']),
    env,
  };
}

function capture(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { windowsHide: true, timeout: 15_000 }, (err, stdout) =>
      resolve(err ? undefined : stdout),
    );
  });
}
