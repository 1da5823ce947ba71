import type { Logger } from 'pino';
import { loadAgentConfig, revealProxyPassword } from '../config/agent-config.ts';
import { createProxyDispatcher } from '../proxy/dispatcher.ts';
import { usesProxy, type ProxyConfig } from '../proxy/proxy-config.ts';
import type { StoreDeps } from './store.ts';
import { storeBox } from './store-cipher.ts';
import { registryFile } from './registry.ts';

/**
 * What the stores need from the agent's configuration: the conf directory, a logger and,
 * when a proxy is configured, a way to build dispatchers through it. Stores use it only
 * when their definition says `use_proxy` (many stores sit inside the customer network).
 */
export function storeDepsFor(confDir: string, logger: Logger): StoreDeps {
  const config = loadAgentConfig(registryFile(confDir));
  const proxy: ProxyConfig = {
    ...config.proxy,
    password: config.proxy.password ? revealProxyPassword(config, storeBox(confDir)) : undefined,
  };
  if (!usesProxy(proxy)) return { confDir, logger };
  return {
    confDir,
    logger,
    proxyDispatcher: (tls) => createProxyDispatcher(proxy, tls, { logger }),
  };
}
