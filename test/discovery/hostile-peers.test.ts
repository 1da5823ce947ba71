import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointResult } from '../../agent/discovery/endpoint.ts';
import { scan } from '../../agent/discovery/scan.ts';

/** Loopback peers that misbehave in the ways a scan meets on a real network. */
const BEHAVIOURS: Record<string, (socket: net.Socket) => void> = {
  // An SSH server greets first, in plain text.
  sshBanner: (s) => s.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'),
  // Accepts, then hangs up without a word.
  hangUp: (s) => s.end(),
  // Resets the connection as soon as the hello arrives.
  reset: (s) => s.once('data', () => s.resetAndDestroy()),
  // A fatal TLS alert (handshake_failure) in answer to any hello.
  alert: (s) =>
    s.once('data', () => s.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]))),
  // Random bytes that are no TLS record.
  garbage: (s) => s.once('data', () => s.end(Buffer.from('\x00\xff'.repeat(200), 'latin1'))),
  // A TLS record header promising a large handshake, then a byte at a time, forever.
  trickle: (s) => {
    s.write(Buffer.from([0x16, 0x03, 0x03, 0x40, 0x00]));
    const timer = setInterval(() => s.write(Buffer.from([0x02])), 50);
    s.on('close', () => clearInterval(timer));
    s.on('error', () => clearInterval(timer));
  },
};

describe('discovery against hostile peers', () => {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const ports: Record<string, number> = {};
  let results: EndpointResult[] = [];

  beforeAll(async () => {
    for (const [name, behave] of Object.entries(BEHAVIOURS)) {
      const server = net.createServer((s) => {
        sockets.add(s);
        s.on('error', () => undefined);
        behave(s);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      ports[name] = (server.address() as net.AddressInfo).port;
      servers.push(server);
    }
    for await (const r of scan({
      targets: ['127.0.0.1'],
      ports: Object.values(ports).join(','),
      timeoutMs: 3000,
    })) {
      results.push(r);
    }
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  function codeOf(name: string) {
    return results.find((r) => r.port === ports[name])?.error?.code;
  }

  it('yields exactly one result per peer, none with a chain', () => {
    expect(results).toHaveLength(Object.keys(BEHAVIOURS).length);
    expect(results.every((r) => r.chain.length === 0 && r.tlsVersion === null)).toBe(true);
  });

  it.each([
    ['sshBanner', 'not-tls'],
    ['garbage', 'not-tls'],
    ['hangUp', 'handshake'],
    ['reset', 'handshake'],
    ['alert', 'handshake'],
    ['trickle', 'timeout'],
  ])('classifies the %s peer as %s', (name, code) => {
    expect(codeOf(name)).toBe(code);
  });

  it('names the endpoint in every message', () => {
    for (const r of results) expect(r.error?.message).toContain(`127.0.0.1:${r.port}`);
  });
});
