import fs from 'node:fs/promises';
import { getEventListeners } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EndpointResult } from '../../agent/discovery/endpoint.ts';
import { scan, type ScanOptions } from '../../agent/discovery/scan.ts';
import {
  makeCert,
  makeChain,
  opensslFingerprint,
  opensslSignatureAlgorithm,
  type TestCert,
  type TestChain,
} from '../support/certs.ts';
import { freePort, freePorts, startNginx, type NginxServer } from '../support/nginx.ts';
import { describeWithTools } from '../support/tools.ts';

const LEGACY_OPENSSL_CONF = `openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
CipherString = DEFAULT:@SECLEVEL=0
MinProtocol = TLSv1
`;

interface Fixture {
  dir: string;
  nginx: NginxServer;
  ports: Record<string, number>;
  rsa: TestChain;
  ec: TestChain;
  expired: TestCert;
  legacy: TestCert;
  sniA: TestCert;
  sniB: TestCert;
  manySans: TestCert;
  closers: Array<() => Promise<void>>;
}

const NAMES = [
  'rsa',
  'ec',
  'expired',
  'sni',
  'legacy',
  'clientCert',
  'manySans',
  'http',
  'silent',
  'closed',
  'strictClientCert',
  'ipv6',
] as const;

// Long enough for a handshake on a loaded CI machine; the silent listener costs one of them.
const PROBE_TIMEOUT_MS = 4000;

let fx: Fixture;

async function collect(options: ScanOptions): Promise<EndpointResult[]> {
  const results: EndpointResult[] = [];
  for await (const r of scan(options)) results.push(r);
  return results;
}

function byPort(results: EndpointResult[], port: number): EndpointResult {
  const found = results.find((r) => r.port === port);
  if (!found) throw new Error(`no result for port ${port}`);
  return found;
}

function tlsServer(cert: string, host: string): string {
  return (
    `ssl_certificate ${cert}; ssl_certificate_key ${path.dirname(cert)}/key.pem; return ` +
    `200 "${host}\\n";`
  );
}

async function makeFixture(): Promise<Fixture> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certagent-discovery-'));
  const list = await freePorts(NAMES.length);
  const ports = Object.fromEntries(NAMES.map((n, i) => [n, list[i]!])) as Record<string, number>;
  ports.ipv6 = await freePort('::1');

  const rsa = await makeChain(dir, { cn: 'rsa.test', sans: ['rsa.test', '127.0.0.1', '::1'] });
  const ec = await makeChain(
    dir,
    { cn: 'ec.test', key: { type: 'ec', curve: 'P-256' } },
    { key: { type: 'ec', curve: 'P-384' }, digest: 'sha384' },
  );
  const expired = await makeCert(dir, {
    cn: 'expired.test',
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2021-01-01T00:00:00Z'),
  });
  const legacy = await makeCert(dir, {
    cn: 'legacy.test',
    key: { type: 'rsa', bits: 1024 },
    digest: 'sha1',
  });
  const sniA = await makeCert(dir, { cn: 'a.test' });
  const sniB = await makeCert(dir, { cn: 'b.test' });
  const manySans = await makeCert(dir, {
    cn: 'many.test',
    sans: Array.from({ length: 300 }, (_, i) => `host${i}.many.test`),
  });

  const legacyConf = path.join(dir, 'legacy-openssl.cnf');
  await fs.writeFile(legacyConf, LEGACY_OPENSSL_CONF);
  const at = (name: string) => `listen 127.0.0.1:${ports[name]}`;
  const nginx = await startNginx({
    dir: await fs.mkdtemp(path.join(dir, 'nginx-')),
    // nginx loads certificates before it applies ssl_ciphers, so the RSA-1024 leaf needs
    // the lower security level from OpenSSL's own configuration too.
    env: { OPENSSL_CONF: legacyConf },
    servers: [
      `${at('rsa')} ssl; ${tlsServer(rsa.fullchainPath, 'rsa')}`,
      `${at('ec')} ssl; ${tlsServer(ec.fullchainPath, 'ec')}`,
      `${at('expired')} ssl; ${tlsServer(expired.certPath, 'expired')}`,
      `${at('sni')} ssl; server_name a.test; ${tlsServer(sniA.certPath, 'a')}`,
      `${at('sni')} ssl; server_name b.test; ${tlsServer(sniB.certPath, 'b')}`,
      `${at('legacy')} ssl; ssl_protocols TLSv1; ssl_ciphers ` +
        `"DEFAULT:@SECLEVEL=0"; ${tlsServer(legacy.certPath, 'legacy')}`,
      `${at('clientCert')} ssl; ssl_verify_client on; ` +
        `ssl_client_certificate ${rsa.root.certPath}; ${tlsServer(rsa.fullchainPath, 'cc')}`,
      `${at('manySans')} ssl; ${tlsServer(manySans.certPath, 'many')}`,
      `${at('http')}; return 200 "plain\\n";`,
      `listen [::1]:${ports.ipv6} ssl; ${tlsServer(rsa.fullchainPath, 'v6')}`,
    ],
  });

  const closers = [
    await silentListener(ports.silent!),
    await strictClientCertServer(ports.strictClientCert!, rsa),
  ];
  return { dir, nginx, ports, rsa, ec, expired, legacy, sniA, sniB, manySans, closers };
}

// Accepts and never writes: the probe must give up after one timeout.
async function silentListener(port: number): Promise<() => Promise<void>> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  };
}

// Silent listeners on 127.0.0.2 and up, counting the connections they accepted.
async function silentPeers(count: number, port: number) {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const servers = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const server = net.createServer((s) => {
        accepted++;
        sockets.add(s);
        // Reading (and dropping) the hello lets the probe's hang-up arrive as 'close'.
        s.resume();
        s.on('close', () => sockets.delete(s));
      });
      await new Promise<void>((r) => server.listen(port, `127.0.0.${i + 2}`, r));
      return server;
    }),
  );
  return {
    accepted: () => accepted,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}

// Unlike nginx, which finishes the handshake and answers 400, this server aborts the TLS 1.2
// handshake when we send no client certificate: the certificate it sent must still count.
async function strictClientCertServer(port: number, chain: TestChain) {
  const server = tls.createServer({
    cert: await fs.readFile(chain.fullchainPath),
    key: await fs.readFile(chain.leaf.keyPath),
    ca: await fs.readFile(chain.root.certPath),
    requestCert: true,
    rejectUnauthorized: true,
    maxVersion: 'TLSv1.2',
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return () => new Promise<void>((r) => server.close(() => r()));
}

describeWithTools('discovery scan against real servers', ['nginx', 'openssl'], () => {
  let results: EndpointResult[];

  beforeAll(async () => {
    fx = await makeFixture();
    const ports = NAMES.filter((n) => n !== 'ipv6').map((n) => fx.ports[n]);
    results = await collect({
      targets: ['127.0.0.1'],
      ports: ports.join(','),
      timeoutMs: PROBE_TIMEOUT_MS,
    });
  });

  afterAll(async () => {
    await fx?.nginx.stop();
    for (const close of fx?.closers ?? []) await close();
    if (fx) await fs.rm(fx.dir, { recursive: true, force: true });
  });

  it(
    'records an RSA leaf and intermediate as ' + 'sent, fingerprints as openssl computes them',
    async () => {
      const r = byPort(results, fx.ports.rsa!);
      expect(r.error).toBeUndefined();
      expect(r.chain.map((c) => c.sha256)).toEqual([
        await opensslFingerprint(fx.rsa.leaf.certPath),
        await opensslFingerprint(fx.rsa.intermediate.certPath),
      ]);
      const [leaf, intermediate] = r.chain;
      expect(leaf).toMatchObject({
        subject: 'CN=rsa.test',
        issuer: 'CN=rsa.test Test Intermediate',
        keyType: 'rsa',
        keyBits: 2048,
        signatureAlgorithm: 'sha256WithRSAEncryption',
        sans: ['DNS:rsa.test', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1'],
      });
      expect(intermediate!.issuer).toBe('CN=rsa.test Test Root');
      expect(leaf!.pem.trim()).toBe(fx.rsa.leaf.pem.trim());
      // nginx 1.22 offers up to TLS 1.2 unless told otherwise.
      expect(r.tlsVersion).toMatch(/^TLSv1\.[23]$/);
      expect(r.cipher).toMatch(/^TLS_/);
      expect(r.sni).toBeNull();
    },
  );

  it('records an ECDSA chain with curve sizes and ECDSA signatures', async () => {
    const r = byPort(results, fx.ports.ec!);
    expect(r.chain).toHaveLength(2);
    expect(r.chain[0]).toMatchObject({ keyType: 'ec', keyBits: 256 });
    expect(r.chain[1]).toMatchObject({ keyType: 'ec', keyBits: 384 });
    expect(r.chain[0]!.signatureAlgorithm).toBe(
      await opensslSignatureAlgorithm(fx.ec.leaf.certPath),
    );
    expect(r.chain[0]!.signatureAlgorithm).toBe('ecdsa-with-SHA256');
    expect(r.chain[1]!.signatureAlgorithm).toBe('ecdsa-with-SHA384');
  });

  it('records an expired self-signed certificate with its validity as ISO dates', async () => {
    const r = byPort(results, fx.ports.expired!);
    expect(r.error).toBeUndefined();
    expect(r.chain).toHaveLength(1);
    expect(r.chain[0]).toMatchObject({
      notBefore: '2020-01-01T00:00:00.000Z',
      notAfter: '2021-01-01T00:00:00.000Z',
      subject: 'CN=expired.test',
      issuer: 'CN=expired.test',
      sha256: await opensslFingerprint(fx.expired.certPath),
    });
  });

  it('records a TLS 1.0-only server with an RSA-1024 SHA-1 certificate', async () => {
    const r = byPort(results, fx.ports.legacy!);
    expect(r.error).toBeUndefined();
    expect(r.tlsVersion).toBe('TLSv1');
    expect(r.chain[0]).toMatchObject({
      keyBits: 1024,
      signatureAlgorithm: 'sha1WithRSAEncryption',
      sha256: await opensslFingerprint(fx.legacy.certPath),
    });
  });

  it('records the certificate of servers that demand a client certificate', async () => {
    const lenient = byPort(results, fx.ports.clientCert!);
    const strict = byPort(results, fx.ports.strictClientCert!);
    const leaf = await opensslFingerprint(fx.rsa.leaf.certPath);
    expect(lenient.chain[0]?.sha256).toBe(leaf);
    expect(strict.chain[0]?.sha256).toBe(leaf);
    expect(strict.tlsVersion).toBe('TLSv1.2');
  });

  it('records every one of hundreds of SANs', async () => {
    const r = byPort(results, fx.ports.manySans!);
    expect(r.chain[0]!.sans).toHaveLength(300);
    expect(r.chain[0]!.sans[299]).toBe('DNS:host299.many.test');
  });

  it('reports plain HTTP as not-tls, a silent peer as timeout and a closed port as refused', () => {
    expect(byPort(results, fx.ports.http!).error?.code).toBe('not-tls');
    const silent = byPort(results, fx.ports.silent!);
    expect(silent.error?.code).toBe('timeout');
    expect(silent.error?.message).toContain(`127.0.0.1:${fx.ports.silent}`);
    expect(silent.error?.message).toContain(`${PROBE_TIMEOUT_MS} ms`);
    const closed = byPort(results, fx.ports.closed!);
    expect(closed.error?.code).toBe('refused');
    expect(closed.chain).toEqual([]);
  });

  it('sends the SNI it is given and gets each virtual host its own certificate', async () => {
    const port = String(fx.ports.sni);
    const [a] = await collect({ targets: ['127.0.0.1'], ports: port, sni: 'a.test' });
    const [b] = await collect({ targets: ['127.0.0.1'], ports: port, sni: 'b.test' });
    expect(a!.sni).toBe('a.test');
    expect(a!.chain[0]!.sha256).toBe(await opensslFingerprint(fx.sniA.certPath));
    expect(b!.chain[0]!.sha256).toBe(await opensslFingerprint(fx.sniB.certPath));
  });

  it('sends a host name target as SNI by default', async () => {
    // localhost may also resolve to ::1, where nothing listens: every address is probed.
    const results = await collect({ targets: ['localhost'], ports: String(fx.ports.sni) });
    const r = results.find((x) => x.address === '127.0.0.1');
    expect(r?.sni).toBe('localhost');
    expect(r?.host).toBe('localhost');
    expect(results.every((x) => x.sni === 'localhost')).toBe(true);
  });

  it('probes IPv6 ::1, bracketed or not', async () => {
    const results = await collect({ targets: ['::1', '[::1]'], ports: String(fx.ports.ipv6) });
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.address).toBe('::1');
      expect(r.chain[0]!.sha256).toBe(await opensslFingerprint(fx.rsa.leaf.certPath));
    }
  });

  it('reports an unresolvable name as a dns error with the name in the message', async () => {
    const [r] = await collect({ targets: ['no-such-host.invalid'], ports: '443' });
    expect(r!.error?.code).toBe('dns');
    expect(r!.address).toBeNull();
    expect(r!.error?.message).toContain('no-such-host.invalid');
  });

  it('holds at most `concurrency` silent peers at once and times each out once', async () => {
    const pool = await silentPeers(20, fx.ports.silent!);
    try {
      const results: EndpointResult[] = [];
      let acceptedAtFirstResult = -1;
      for await (const r of scan({
        targets: ['127.0.0.2-21'],
        ports: String(fx.ports.silent),
        timeoutMs: 1000,
        concurrency: 5,
      })) {
        if (results.length === 0) acceptedAtFirstResult = pool.accepted();
        results.push(r);
      }
      expect(results).toHaveLength(20);
      expect(results.every((r) => r.error?.code === 'timeout')).toBe(true);
      // Nothing new starts before a slot frees up: the first wave is at most 5 connections
      // (fewer only if this loaded process had not yet accepted them all).
      expect(acceptedAtFirstResult).toBeLessThanOrEqual(5);
      expect(pool.accepted()).toBe(20);
    } finally {
      await pool.close();
    }
  });

  it(
    'closes probes in flight and lets go of ' + 'the caller signal when the consumer stops',
    async () => {
      const pool = await silentPeers(3, fx.ports.silent!);
      const controller = new AbortController();
      try {
        for await (const r of scan({
          targets: ['127.0.0.2-4'],
          ports: `${fx.ports.closed},${fx.ports.silent}`,
          timeoutMs: 600_000,
          signal: controller.signal,
        })) {
          expect(r.error?.code).toBe('refused');
          break;
        }
        expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
        // With a ten-minute probe timeout, only the early exit can have closed them.
        for (let i = 0; i < 100 && pool.open() > 0; i++)
          await new Promise((r) => setTimeout(r, 50));
        expect(pool.open()).toBe(0);
        expect(pool.accepted()).toBeGreaterThan(0);
      } finally {
        await pool.close();
      }
    },
  );

  it('reports progress once per endpoint', async () => {
    const seen: Array<{ done: number; found: number }> = [];
    const ports = [fx.ports.rsa, fx.ports.closed, fx.ports.ec].join(',');
    await collect({ targets: ['127.0.0.1'], ports, onProgress: (p) => seen.push(p) });
    expect(seen.map((p) => p.done)).toEqual([1, 2, 3]);
    expect(seen.at(-1)!.found).toBe(2);
  });

  it('stops starting probes once the signal aborts', async () => {
    const controller = new AbortController();
    const seen: EndpointResult[] = [];
    for await (const r of scan({
      targets: ['127.1.0.0/16'],
      ports: String(fx.ports.closed),
      concurrency: 4,
      signal: controller.signal,
    })) {
      seen.push(r);
      if (seen.length === 10) controller.abort();
    }
    expect(seen.length).toBeGreaterThanOrEqual(10);
    expect(seen.length).toBeLessThan(20);
  });
});
