import tls from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import type { ProxyConfig } from './proxy-config.ts';
import { ProxyConnector, type TunnelOptions } from './tunnel.ts';

/**
 * An undici Dispatcher whose every connection goes the way the proxy configuration says
 * (PAC, fixed proxy with basic or NTLM authentication, or direct). The tunnel is made by
 * ProxyConnector, then TLS is layered on it with `tlsOptions` (CA, client certificate).
 * Plain http:// origins are tunneled with CONNECT as well, which keeps one code path; a
 * proxy that only allows CONNECT to port 443 would refuse them.
 */
export function createProxyDispatcher(
  proxyConfig: ProxyConfig | undefined,
  tlsOptions: tls.ConnectionOptions = {},
  options: TunnelOptions = {},
): Dispatcher {
  const connector = new ProxyConnector(proxyConfig, options);
  return new TunnelAgent(connector, {
    connect: (opts, callback) => {
      const target = {
        host: opts.hostname,
        port: Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80),
      };
      const open =
        opts.protocol === 'https:'
          ? connector.openTls(target, {
              ALPNProtocols: ['http/1.1'],
              servername: opts.servername || undefined,
              ...tlsOptions,
            })
          : connector.openSocket(target, opts.protocol);
      open.then(
        (socket) => callback(null, socket),
        (err: Error) => callback(err, null),
      );
    },
  });
}

/** An Agent that also stops its connector's PAC worker when it is closed. */
class TunnelAgent extends Agent {
  constructor(
    private readonly connector: ProxyConnector,
    options: Agent.Options,
  ) {
    super(options);
  }

  override close(callback: () => void): void;
  override close(): Promise<void>;
  override close(callback?: () => void): Promise<void> | void {
    void this.connector.close();
    return callback ? super.close(callback) : super.close();
  }
}
