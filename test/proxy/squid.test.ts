import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createProxyDispatcher } from '../../agent/proxy/dispatcher.ts';
import type { ProxyConfig } from '../../agent/proxy/proxy-config.ts';
import { openTunnel, ProxyConnector } from '../../agent/proxy/tunnel.ts';
import { openDefinition } from '../../agent/credstores/registry.ts';
import { startFakeVault } from '../fakes/vault/server.ts';
import { createTestPki, type TestPki } from '../fakes/cyberark/pki.ts';
import { startSquid, type Squid } from '../support/squid.ts';
import { describeWithTools } from '../support/tools.ts';

const BASIC_PASSWORD = 'Basic-Pr0xy-Pa55';
const NTLM_PASSWORD = 'Ntlm-Pr0xy-Pa55';
// squid writes a line when a tunnel closes; on a loaded runner that can take a while.
const POLL = { timeout: 15_000, interval: 100 };

describeWithTools('HTTPS through a real squid', ['squid', 'htpasswd', 'openssl'], () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-proxy-'));
  let pki: TestPki;
  let basic: Squid;
  let ntlm: Squid;
  let origin: https.Server;
  let originPort: number;
  let pacServer: http.Server;
  let pacBase: string;
  let logText = '';
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _e, cb) {
        logText += chunk.toString();
        cb();
      },
    }),
  );

  beforeAll(async () => {
    pki = await createTestPki(dir);
    [basic, ntlm] = await Promise.all([
      startSquid({ basicUsers: { agent: BASIC_PASSWORD } }),
      startSquid({ ntlm: true }),
    ]);
    origin = https.createServer(
      { key: fs.readFileSync(pki.serverKey), cert: fs.readFileSync(pki.serverCert) },
      (req, res) => res.end(`hello ${req.url}`),
    );
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    originPort = (origin.address() as AddressInfo).port;

    // The PAC file sends everything through whichever squid its path names, after a dead
    // proxy first so the fallback to the next entry is exercised too.
    pacServer = http.createServer((req, res) => {
      const port = req.url === '/ntlm.pac' ? ntlm.port : basic.port;
      res.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig' });
      res.end(
        `function FindProxyForURL(url, host) {
           if (isPlainHostName(host)) return "DIRECT";
           return "PROXY 127.0.0.1:1; PROXY 127.0.0.1:${port}";
         }`,
      );
    });
    await new Promise<void>((resolve) => pacServer.listen(0, '127.0.0.1', resolve));
    pacBase = `http://127.0.0.1:${(pacServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await Promise.all([basic?.stop(), ntlm?.stop()]);
    origin?.closeAllConnections();
    await new Promise((resolve) => origin?.close(resolve));
    await new Promise((resolve) => pacServer?.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function get(config: ProxyConfig, pathName: string): Promise<string> {
    const dispatcher = createProxyDispatcher(
      config,
      { ca: fs.readFileSync(pki.caCert, 'utf8') },
      { logger },
    );
    try {
      const res = await request(`https://127.0.0.1:${originPort}${pathName}`, { dispatcher });
      return `${res.statusCode} ${await res.body.text()}`;
    } finally {
      await dispatcher.close();
    }
  }

  it('tunnels through squid with basic authentication, and squid logs it', async () => {
    const config = {
      host: '127.0.0.1',
      port: basic.port,
      user: 'agent',
      password: BASIC_PASSWORD,
    };
    expect(await get(config, '/basic')).toBe('200 hello /basic');
    await expect
      .poll(() => basic.accessLog(), POLL)
      .toMatch(new RegExp(`TCP_TUNNEL/200 .* CONNECT 127\\.0\\.0\\.1:${originPort} agent `));
  });

  it('tunnels through squid with NTLM on one kept-alive connection', async () => {
    const config = {
      host: '127.0.0.1',
      port: ntlm.port,
      domain: 'CORP',
      user: 'agent',
      password: NTLM_PASSWORD,
    };
    expect(await get(config, '/ntlm')).toBe('200 hello /ntlm');
    // The challenge leg shows as a 407, then the authenticated tunnel with the NTLM user
    // (squid's fake helper prints domain and user with a stray trailing byte each).
    const connect = `CONNECT 127\\.0\\.0\\.1:${originPort}`;
    await expect
      .poll(() => ntlm.accessLog(), POLL)
      .toMatch(
        new RegExp(
          `TCP_DENIED/407 .* ${connect} - [^]*TCP_TUNNEL/200 .* ${connect} CORP.?\\\\+agent`,
        ),
      );
  });

  it('switches to NTLM when the proxy offers nothing else, even without a domain', async () => {
    const config = { host: '127.0.0.1', port: ntlm.port, user: 'agent', password: NTLM_PASSWORD };
    expect(await get(config, '/ntlm-no-domain')).toBe('200 hello /ntlm-no-domain');
  });

  it('follows a PAC file served on loopback, skipping a dead proxy', async () => {
    const before = basic.accessLog().split('\n').length;
    const config = { pacUrl: `${pacBase}/basic.pac`, user: 'agent', password: BASIC_PASSWORD };
    expect(await get(config, '/pac')).toBe('200 hello /pac');
    await expect.poll(() => basic.accessLog().split('\n').length, POLL).toBeGreaterThan(before);
    expect(logText).toMatch(/"route":"PROXY 127\.0\.0\.1:1".*proxy route failed/);
  });

  it('follows a PAC file to the NTLM proxy', async () => {
    const config = {
      pacUrl: `${pacBase}/ntlm.pac`,
      domain: 'CORP',
      user: 'agent',
      password: NTLM_PASSWORD,
    };
    expect(await get(config, '/pac-ntlm')).toBe('200 hello /pac-ntlm');
  });

  it.each([
    [
      'a wrong password',
      { user: 'agent', password: 'Wrong-Pa55' },
      /refused authentication with user "agent".*HTTP 407.*Basic/,
    ],
    ['no credentials', {}, /refused authentication with no credentials.*HTTP 407/],
  ])('reports %s clearly', async (_t, creds, message) => {
    const config = { host: '127.0.0.1', port: basic.port, ...creds };
    await expect(get(config, '/denied')).rejects.toThrow(message);
  });

  it('tunnels plain http:// origins too (stores inside the network often speak HTTP)', async () => {
    const plain = http.createServer((req, res) => res.end(`plain ${req.url}`));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const port = (plain.address() as AddressInfo).port;
    const config = { host: '127.0.0.1', port: basic.port, user: 'agent', password: BASIC_PASSWORD };
    const dispatcher = createProxyDispatcher(config, {}, { logger });
    try {
      const res = await request(`http://127.0.0.1:${port}/p`, { dispatcher });
      expect(`${res.statusCode} ${await res.body.text()}`).toBe('200 plain /p');
    } finally {
      await dispatcher.close();
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
    }
    // squid writes a tunnel's log line when the tunnel closes.
    await expect
      .poll(() => basic.accessLog(), POLL)
      .toMatch(new RegExp(`TCP_TUNNEL/200 .* CONNECT 127\\.0\\.0\\.1:${port} agent`));
  });

  it('reaches a credential store through the proxy when the store says use_proxy', async () => {
    const vault = await startFakeVault();
    vault.mounts.set('secret', {
      version: 2,
      secrets: new Map([['web', { username: 'u', password: 'p' }]]),
    });
    vault.addToken('hvs.via-proxy', { ttl: 0 });
    const proxy = { host: '127.0.0.1', port: basic.port, user: 'agent', password: BASIC_PASSWORD };
    const deps = {
      confDir: dir,
      logger,
      proxyDispatcher: (tls: object) => createProxyDispatcher(proxy, tls, { logger }),
    };
    const settings = { address: vault.url, use_proxy: true };
    const store = openDefinition(
      { name: 'v', type: 'vault', settings, secrets: { token: 'hvs.via-proxy' } },
      deps,
    );
    try {
      expect((await store.getCredential('web')).username).toBe('u');
    } finally {
      await store.close();
      await vault.close();
    }
    const vaultPort = new URL(vault.url).port;
    await expect
      .poll(() => basic.accessLog(), POLL)
      .toMatch(new RegExp(`TCP_TUNNEL/200 .* CONNECT 127\\.0\\.0\\.1:${vaultPort} agent`));
  });

  it('reports an unreachable proxy', async () => {
    const connector = new ProxyConnector({ host: '127.0.0.1', port: 1 });
    await expect(connector.openSocket({ host: '127.0.0.1', port: originPort })).rejects.toThrow(
      new RegExp(
        String.raw`cannot reach 127\.0\.0\.1:\d+: PROXY 127\.0\.0\.1:1: cannot connect ` +
          String.raw`to proxy 127\.0\.0\.1:1: ECONNREFUSED`,
      ),
    );
  });

  it('opens raw TLS tunnels for TLS clients', async () => {
    const connector = new ProxyConnector({
      host: '127.0.0.1',
      port: ntlm.port,
      domain: 'CORP',
      user: 'agent',
      password: NTLM_PASSWORD,
    });
    const socket = await connector.openTls(
      { host: '127.0.0.1', port: originPort },
      { ca: fs.readFileSync(pki.caCert, 'utf8') },
    );
    expect(socket.getPeerCertificate().subject.CN).toBe('127.0.0.1');
    socket.destroy();
  });

  it('opens a raw tunnel in one call, for a TLS client of its own', async () => {
    const config = { host: '127.0.0.1', port: basic.port, user: 'agent', password: BASIC_PASSWORD };
    const raw = await openTunnel(config, { host: '127.0.0.1', port: originPort });
    const secure = tls.connect({ socket: raw, ca: fs.readFileSync(pki.caCert, 'utf8') });
    await new Promise((resolve, reject) =>
      secure.once('secureConnect', resolve).once('error', reject),
    );
    expect(secure.authorized).toBe(true);
    secure.destroy();
  });

  it('never writes a proxy password to its logs or squid logs', () => {
    for (const text of [logText, basic.accessLog(), ntlm.accessLog()]) {
      expect(text).not.toContain(BASIC_PASSWORD);
      expect(text).not.toContain(NTLM_PASSWORD);
      expect(text).not.toContain(Buffer.from(`agent:${BASIC_PASSWORD}`).toString('base64'));
    }
  });
});
