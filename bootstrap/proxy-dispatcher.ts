import { EnvHttpProxyAgent, ProxyAgent, type Dispatcher } from 'undici';
import { OperationalError } from '../agent/cli/errors.ts';

/**
 * The dispatcher that carries the bootstrap's downloads: the proxy from the PROPERTY_PROXY_*
 * properties when PROPERTY_USE_PROXY is set, else the system proxy from the environment
 * (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), else direct.
 */
export function proxyDispatcherFor(
  properties: Map<string, string>,
  env: NodeJS.ProcessEnv = process.env,
): Dispatcher | undefined {
  const use = properties.get('PROPERTY_USE_PROXY');
  if (use && use !== '0') return explicitProxy(properties);

  const fromEnv = env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy;
  // TODO: the Windows system proxy (WinINET / WinHTTP settings) is not read yet; only the
  // environment is. Administrators behind such a proxy pass the PROPERTY_PROXY_* properties.
  return fromEnv ? new EnvHttpProxyAgent() : undefined;
}

function explicitProxy(properties: Map<string, string>): Dispatcher {
  const host = properties.get('PROPERTY_PROXY_HOST');
  const port = properties.get('PROPERTY_PROXY_PORT') ?? '8080';
  if (properties.get('PROPERTY_PROXY_PAC_URL') || properties.get('PROPERTY_PROXY_DOMAIN')) {
    // TODO: PAC and NTLM need agent/proxy's createProxyDispatcher, which had not landed
    // when this was written; until then they are refused rather than silently ignored.
    throw new OperationalError(
      'PROPERTY_PROXY_PAC_URL and PROPERTY_PROXY_DOMAIN (NTLM) are not supported by this ' +
        'bootstrap yet; give PROPERTY_PROXY_HOST and PROPERTY_PROXY_PORT instead',
      'bootstrap.proxy-unsupported',
    );
  }
  if (!host || !/^\d{1,5}$/.test(port)) {
    throw new OperationalError(
      `PROPERTY_USE_PROXY is set but the proxy is incomplete (host "${host ?? ''}", port ` +
        `"${port}"); give PROPERTY_PROXY_HOST and a numeric PROPERTY_PROXY_PORT`,
      'bootstrap.proxy-incomplete',
    );
  }

  const user = properties.get('PROPERTY_PROXY_USER');
  const password = properties.get('PROPERTY_PROXY_PASSWORD') ?? '';
  const token = user ? `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` : undefined;
  const uri = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new ProxyAgent({ uri, token });
}
