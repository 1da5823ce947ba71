import { Agent, type Dispatcher } from 'undici';
import { OperationalError } from '../agent/cli/errors.ts';
import { createProxyDispatcher } from '../agent/proxy/dispatcher.ts';
import { directConnector } from '../agent/proxy/direct-connector.ts';
import { describeProxy, type ProxyConfig } from '../agent/proxy/proxy-config.ts';
import { systemProxyFor, windowsProxySources, type SystemProxySources } from './system-proxy.ts';

export interface DownloadRoute {
  dispatcher: Dispatcher;
  /** For the log: where the proxy came from and which one, password masked. */
  description: string;
}

/**
 * The dispatcher that carries the bootstrap's downloads from `source`: the proxy from the
 * PROPERTY_PROXY_* properties when PROPERTY_USE_PROXY is set (PAC, or host and port, with
 * basic or NTLM authentication), else the system proxy (on Windows WinINET, then WinHTTP;
 * everywhere HTTPS_PROXY / HTTP_PROXY / NO_PROXY), else direct.
 */
export async function proxyDispatcherFor(
  properties: Map<string, string>,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
  sources: SystemProxySources | undefined = process.platform === 'win32'
    ? windowsProxySources(env)
    : { wininet: async () => undefined, winhttp: async () => undefined, env },
): Promise<DownloadRoute> {
  const use = properties.get('PROPERTY_USE_PROXY');
  if (use && use !== '0') {
    const config = proxyConfigFrom(properties);
    return {
      dispatcher: createProxyDispatcher(config),
      description: `proxy from the properties: ${describeProxy(config)}`,
    };
  }

  const system = await systemProxyFor(source, sources);
  if (system) {
    return {
      dispatcher: createProxyDispatcher(system),
      description: `system proxy: ${describeProxy(system)}`,
    };
  }
  return { dispatcher: directAgent(), description: 'direct, no proxy' };
}

/** Direct connections; keep-alive is set only once connected (see directConnector). */
function directAgent(): Dispatcher {
  return new Agent({ connect: directConnector({ timeout: 30_000 }) });
}

/** The proxy the properties describe, checked before any connection is tried. */
export function proxyConfigFrom(properties: Map<string, string>): ProxyConfig {
  const pacUrl = properties.get('PROPERTY_PROXY_PAC_URL');
  const host = properties.get('PROPERTY_PROXY_HOST');
  const port = properties.get('PROPERTY_PROXY_PORT') ?? '8080';
  if (!pacUrl && (!host || !/^\d{1,5}$/.test(port) || Number(port) > 65535)) {
    throw new OperationalError(
      `PROPERTY_USE_PROXY is set but the proxy is incomplete (host "${host ?? ''}", port ` +
        `"${port}"); give PROPERTY_PROXY_PAC_URL, or PROPERTY_PROXY_HOST and a numeric ` +
        'PROPERTY_PROXY_PORT',
      'bootstrap.proxy-incomplete',
    );
  }
  return {
    pacUrl,
    host: pacUrl ? undefined : host,
    port: pacUrl ? undefined : Number(port),
    domain: properties.get('PROPERTY_PROXY_DOMAIN'),
    user: properties.get('PROPERTY_PROXY_USER'),
    password: properties.get('PROPERTY_PROXY_PASSWORD'),
  };
}
