import type { Socket } from 'node:net';
import { OperationalError } from '../cli/errors.ts';
import { ntlmAuthenticate, ntlmNegotiate } from './ntlm-auth.ts';
import { authSchemeOf, type ProxyConfig } from './proxy-config.ts';
import { readProxyResponse, type ProxyResponse } from './proxy-response.ts';

export interface ConnectTarget {
  host: string;
  port: number;
}

/**
 * Asks the proxy on `socket` for a tunnel to `target` (HTTP CONNECT), authenticating as
 * configured. NTLM authenticates the connection, not the request, so its three legs
 * (negotiate, challenge, authenticate) must all travel on this one socket.
 */
export async function requestTunnel(
  socket: Socket,
  config: ProxyConfig,
  target: ConnectTarget,
  proxy: string,
  timeoutMs: number,
): Promise<void> {
  const scheme = authSchemeOf(config);
  if (scheme === 'ntlm') return ntlmTunnel(socket, config, target, proxy, timeoutMs);

  const auth = scheme === 'basic' ? `Basic ${basicToken(config)}` : undefined;
  const res = await sendConnect(socket, target, auth, proxy, timeoutMs);
  if (res.status === 200) return;

  // A proxy that only speaks NTLM (common with Windows domains) gets NTLM even when no
  // domain was configured: the user's own domain is then implied by the proxy.
  if (scheme === 'basic' && offersOnlyNtlm(res) && !socket.destroyed) {
    return ntlmTunnel(socket, config, target, proxy, timeoutMs);
  }
  throw refused(res, config, target, proxy);
}

function offersOnlyNtlm(res: ProxyResponse): boolean {
  const schemes = (res.headers.get('proxy-authenticate') ?? []).map((h) =>
    h.split(' ')[0]!.toUpperCase(),
  );
  return res.status === 407 && schemes.includes('NTLM') && !schemes.includes('BASIC');
}

async function ntlmTunnel(
  socket: Socket,
  config: ProxyConfig,
  target: ConnectTarget,
  proxy: string,
  timeoutMs: number,
): Promise<void> {
  const domain = config.domain ?? '';
  const first = await sendConnect(socket, target, ntlmNegotiate(domain), proxy, timeoutMs);
  if (first.status === 200) return; // the proxy did not ask for authentication after all

  const challenge = first.headers.get('proxy-authenticate')?.find((h) => /^NTLM \S+/.test(h));
  if (first.status !== 407 || !challenge) {
    throw new OperationalError(
      `proxy ${proxy} did not answer the NTLM negotiation with a challenge (HTTP ${first.status}` +
        `, offers: ${offered(first)}); check that the proxy ` +
        `supports NTLM, or drop the domain to use basic`,
      'proxy-auth-failed',
    );
  }
  if (socket.destroyed) {
    throw new OperationalError(
      `proxy ${proxy} closed the connection after its NTLM challenge; NTLM needs the proxy to ` +
        'keep the connection open (check its persistent-connection settings)',
      'proxy-auth-failed',
    );
  }
  const user = config.user ?? '';
  const answer = ntlmAuthenticate(challenge, domain, user, config.password ?? '', proxy);
  const second = await sendConnect(socket, target, answer, proxy, timeoutMs);
  if (second.status !== 200) throw refused(second, config, target, proxy);
}

async function sendConnect(
  socket: Socket,
  target: ConnectTarget,
  authorization: string | undefined,
  proxy: string,
  timeoutMs: number,
): Promise<ProxyResponse> {
  const authority = target.host.includes(':')
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`;
  const lines = [
    `CONNECT ${authority} HTTP/1.1`,
    `Host: ${authority}`,
    'Proxy-Connection: keep-alive',
    'Connection: keep-alive',
  ];
  if (authorization) lines.push(`Proxy-Authorization: ${authorization}`);
  const response = readProxyResponse(socket, timeoutMs, proxy);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  try {
    return await response;
  } catch (err) {
    throw new OperationalError(
      `${(err as Error).message} (tunnel to ${authority})`,
      'proxy-protocol',
      {
        cause: err,
      },
    );
  }
}

function basicToken(config: ProxyConfig): string {
  return Buffer.from(`${config.user ?? ''}:${config.password ?? ''}`, 'utf8').toString('base64');
}

function offered(res: ProxyResponse): string {
  return (
    (res.headers.get('proxy-authenticate') ?? []).map((h) => h.split(' ')[0]).join(', ') || 'none'
  );
}

function refused(
  res: ProxyResponse,
  config: ProxyConfig,
  target: ConnectTarget,
  proxy: string,
): OperationalError {
  const to = `${target.host}:${target.port}`;
  if (res.status === 407) {
    const who = config.user ? `user "${config.user}"` : 'no credentials';
    return new OperationalError(
      `proxy ${proxy} refused authentication with ${who} for ${to} (HTTP 407, proxy offers: ` +
        `${offered(res)}); check the proxy user, password ` +
        `and domain (certagent-config set proxy...)`,
      'proxy-auth-failed',
    );
  }
  return new OperationalError(
    `proxy ${proxy} refused a tunnel to ${to} (HTTP ${res.status} ${res.statusText}); the proxy ` +
      'policy may forbid this host or port: ask its administrator',
    'proxy-refused',
  );
}
