import type { Logger } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import { revealProxyPassword, type AgentConfig } from '../config/agent-config.ts';
import { SecretBox } from '../config/secret-box.ts';
import { createProxyDispatcher } from '../proxy/dispatcher.ts';
import { directConnector } from '../proxy/direct-connector.ts';
import { usesProxy } from '../proxy/proxy-config.ts';

/**
 * TLS settings of the connection to the manager (trust, and the client identity once
 * registered).
 */
export interface ManagerTls {
  ca: string[];
  cert?: string;
  key?: string;
}

/**
 * The one place where the agent's outbound HTTPS dispatcher towards the manager is
 * built: through the configured proxy (PAC, host/port, basic or NTLM) when there is one,
 * direct otherwise. The proxy password is unsealed here, in memory only.
 */
export function createManagerDispatcher(
  config: AgentConfig,
  tls: ManagerTls,
  secretKeyFile: string,
  logger?: Logger,
): Dispatcher {
  const tlsOptions = { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true };
  if (usesProxy(config.proxy)) {
    const password = config.proxy.password
      ? revealProxyPassword(config, SecretBox.open(secretKeyFile))
      : undefined;
    return createProxyDispatcher({ ...config.proxy, password }, tlsOptions, { logger });
  }
  return new Agent({
    connect: directConnector({ ...tlsOptions, timeout: 15_000 }),
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
}
