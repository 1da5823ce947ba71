import { Agent, type Dispatcher } from 'undici';
import type { AgentConfig } from '../config/agent-config.ts';

/** TLS settings of the connection to the manager (trust, and the client identity once registered). */
export interface ManagerTls {
  ca: string[];
  cert?: string;
  key?: string;
}

/**
 * The one place where the agent's outbound HTTPS dispatcher is built. Every call to the
 * manager goes through it, so the proxy (PAC, host/port, NTLM) is wired here.
 *
 * TODO: when agent/proxy/ lands, return `createProxyDispatcher(config, tls)` when
 * `config.proxy` has a PAC URL or host; until then connections go direct and proxy
 * settings are stored but not applied.
 */
export function createManagerDispatcher(config: AgentConfig, tls: ManagerTls): Dispatcher {
  void config;
  return new Agent({
    connect: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true },
    connectTimeout: 15_000,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
}
