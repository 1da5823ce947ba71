/**
 * How the agent and the bootstrap reach the outside: a PAC URL, or a fixed proxy, with
 * optional credentials (NTLM when a domain is given, basic otherwise).
 */
export interface ProxyConfig {
  pacUrl?: string;
  host?: string;
  port?: number;
  /** NTLM domain; its presence selects NTLM instead of basic authentication. */
  domain?: string;
  /** Same field names as conf/agent.json's proxy section; the password here is in clear. */
  user?: string;
  password?: string;
}

export type ProxyAuthScheme = 'none' | 'basic' | 'ntlm';

/** True when the configuration sends anything through a proxy at all. */
export function usesProxy(config: ProxyConfig | undefined): config is ProxyConfig {
  return Boolean(config && (config.pacUrl || config.host));
}

export function authSchemeOf(config: ProxyConfig): ProxyAuthScheme {
  if (!config.user) return 'none';
  return config.domain ? 'ntlm' : 'basic';
}

/** A one-line description for `status` and logs: the password is never shown. */
export function describeProxy(config: ProxyConfig | undefined): string {
  if (!usesProxy(config)) return 'none (direct connections)';
  const where = config.pacUrl ? `PAC ${config.pacUrl}` : `${config.host}:${config.port ?? 8080}`;
  const scheme = authSchemeOf(config);
  if (scheme === 'none') return `${where}, no authentication`;
  const user = scheme === 'ntlm' ? `${config.domain}\\${config.user}` : config.user;
  return `${where}, ${scheme} as ${user}, password ${config.password ? '********' : '(not set)'}`;
}
