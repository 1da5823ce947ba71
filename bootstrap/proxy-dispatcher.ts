import { EnvHttpProxyAgent, type Dispatcher } from 'undici';
import { OperationalError } from '../agent/cli/errors.ts';
import { createProxyDispatcher } from '../agent/proxy/dispatcher.ts';
import type { ProxyConfig } from '../agent/proxy/proxy-config.ts';

/**
 * The dispatcher that carries the bootstrap's downloads: the proxy from the PROPERTY_PROXY_*
 * properties when PROPERTY_USE_PROXY is set (PAC, or host and port, with basic or NTLM
 * authentication), else the system proxy from the environment (HTTPS_PROXY / HTTP_PROXY /
 * NO_PROXY), else direct.
 */
export function proxyDispatcherFor(
  properties: Map<string, string>,
  env: NodeJS.ProcessEnv = process.env,
): Dispatcher | undefined {
  const use = properties.get('PROPERTY_USE_PROXY');
  if (use && use !== '0') return createProxyDispatcher(proxyConfigFrom(properties));

  const fromEnv = env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy;
  // TODO: the Windows system proxy (WinINET / WinHTTP settings) is not read yet; only the
  // environment is. Administrators behind such a proxy pass the PROPERTY_PROXY_* properties.
  return fromEnv ? new EnvHttpProxyAgent() : undefined;
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
