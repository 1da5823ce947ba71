import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { OperationalError } from '../cli/errors.ts';
import { requestTunnel, type ConnectTarget } from './connect-handshake.ts';
import { PacFile } from './pac-file.ts';
import { usesProxy, type ProxyConfig } from './proxy-config.ts';
import { describeRoute, type ProxyRoute } from './proxy-route.ts';

export interface TunnelOptions {
  /** Per step: TCP connect, and each proxy answer. */
  timeoutMs?: number;
  logger?: Logger;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * Opens connections the way the proxy configuration says: straight, through a fixed
 * proxy, or through what a PAC file picks, trying PAC alternatives in order when a proxy
 * cannot be reached. One instance per configuration keeps the downloaded PAC file.
 */
export class ProxyConnector {
  private readonly pac?: PacFile;
  private readonly timeoutMs: number;

  constructor(
    readonly config: ProxyConfig | undefined,
    private readonly options: TunnelOptions = {},
  ) {
    this.pac = config?.pacUrl ? new PacFile(config.pacUrl) : undefined;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Stops the PAC worker, if any (the next use starts a new one). */
  async close(): Promise<void> {
    await this.pac?.close();
  }

  /** The routes to try for a URL, in order. */
  async routesFor(url: URL): Promise<ProxyRoute[]> {
    if (!usesProxy(this.config)) return [{ kind: 'direct' }];
    if (this.pac) return this.pac.routesFor(url);
    return [{ kind: 'proxy', host: this.config.host!, port: Number(this.config.port ?? 8080) }];
  }

  /**
   * A raw TCP socket to `target` (tunneled through the proxy when one applies), for
   * callers that speak TLS or another protocol on top themselves.
   */
  async openSocket(target: ConnectTarget, scheme = 'https:'): Promise<net.Socket> {
    const url = new URL(`${scheme}//${formatHost(target.host)}:${target.port}/`);
    const routes = await this.routesFor(url);
    const failures: string[] = [];
    for (const route of routes) {
      try {
        return await this.openVia(route, target);
      } catch (err) {
        // Only an unreachable proxy moves on to the next PAC entry; a refusal is final.
        if (err instanceof OperationalError && err.code !== 'proxy-unreachable') throw err;
        failures.push(`${describeRoute(route)}: ${(err as Error).message}`);
        this.options.logger?.warn(
          { route: describeRoute(route), err },
          'proxy route failed; trying the next',
        );
      }
    }
    throw new OperationalError(
      `cannot reach ${target.host}:${target.port}: ${failures.join('; ')}; check the proxy ` +
        'settings (certagent status) and that the proxy is up',
      'proxy-unreachable',
    );
  }

  /** A TLS connection to `target`, through the proxy when one applies. */
  async openTls(
    target: ConnectTarget,
    tlsOptions: tls.ConnectionOptions = {},
  ): Promise<tls.TLSSocket> {
    const socket = await this.openSocket(target);
    const servername = tlsOptions.servername ?? (net.isIP(target.host) ? undefined : target.host);
    return new Promise((resolve, reject) => {
      const secure = tls.connect({ ...tlsOptions, servername, socket });
      secure.once('secureConnect', () => resolve(secure));
      secure.once('error', (err) => {
        socket.destroy();
        reject(err);
      });
    });
  }

  private async openVia(route: ProxyRoute, target: ConnectTarget): Promise<net.Socket> {
    if (route.kind === 'direct') {
      return connectTcp(target.host, target.port, this.timeoutMs, `${target.host}:${target.port}`);
    }
    const proxy = `${formatHost(route.host)}:${route.port}`;
    const socket = await connectTcp(route.host, route.port, this.timeoutMs, `proxy ${proxy}`);
    try {
      await requestTunnel(socket, this.config ?? {}, target, proxy, this.timeoutMs);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    this.options.logger?.debug(
      { proxy, host: target.host, port: target.port },
      'proxy tunnel open',
    );
    return socket;
  }
}

function connectTcp(
  host: string,
  port: number,
  timeoutMs: number,
  what: string,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const fail = (why: string, cause?: unknown) => {
      socket.destroy();
      reject(
        new OperationalError(`cannot connect to ${what}: ${why}`, 'proxy-unreachable', { cause }),
      );
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message, err));
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * One raw TCP socket to `target` through the configured proxy (or direct), for TLS
 * clients that do their own handshake. Callers making many connections should keep a
 * ProxyConnector instead, so a PAC file is downloaded once.
 */
export async function openTunnel(
  config: ProxyConfig | undefined,
  target: ConnectTarget,
  options: TunnelOptions = {},
): Promise<net.Socket> {
  const connector = new ProxyConnector(config, options);
  try {
    return await connector.openSocket(target);
  } finally {
    await connector.close();
  }
}
