import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { directConnector } from '../../agent/proxy/direct-connector.ts';
import { makeCert, type TestCert } from '../support/certs.ts';

/**
 * Windows' libuv applies a keep-alive asked for before the socket exists while creating it,
 * and fails the connect when the option is refused (Wine). The connector must therefore
 * never ask before the socket is connected, and still ask once it is.
 */
describe('direct connections set TCP keep-alive only once connected', () => {
  let plain: http.Server;
  let secure: https.Server;
  let cert: TestCert;
  let dir: string;
  const calls: Array<{ connecting: boolean; enable: boolean }> = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-direct-connector-'));
    cert = await makeCert(dir, { cn: 'localhost', sans: ['IP:127.0.0.1'] });
    const answer = (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('ok');
    plain = http.createServer(answer);
    secure = https.createServer({ key: fs.readFileSync(cert.keyPath), cert: cert.pem }, answer);
    await Promise.all(
      [plain, secure].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))),
    );
    const original = net.Socket.prototype.setKeepAlive;
    vi.spyOn(net.Socket.prototype, 'setKeepAlive').mockImplementation(function (
      this: net.Socket,
      enable?: boolean,
      delay?: number,
    ) {
      calls.push({ connecting: this.connecting, enable: Boolean(enable) });
      return original.call(this, enable, delay);
    });
  });

  afterEach(() => {
    calls.length = 0;
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all([plain, secure].map((s) => new Promise((r) => s.close(r))));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const port = (s: net.Server) => (s.address() as AddressInfo).port;

  async function get(agent: Agent, url: string): Promise<string> {
    try {
      const res = await request(url, { dispatcher: agent });
      return await res.body.text();
    } finally {
      await agent.close();
    }
  }

  it('undici on its own asks while the socket is still connecting (the Wine failure)', async () => {
    const body = await get(new Agent(), `http://127.0.0.1:${port(plain)}/`);
    expect(body).toBe('ok');
    expect(calls).toContainEqual({ connecting: true, enable: true });
  });

  it.each([
    ['http', () => `http://127.0.0.1:${port(plain)}/`],
    ['https', () => `https://127.0.0.1:${port(secure)}/`],
  ])('over %s: only after connecting, and it is on', async (_name, url) => {
    const agent = new Agent({ connect: directConnector({ ca: [cert.pem] }) });
    expect(await get(agent, url())).toBe('ok');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => !c.connecting)).toBe(true);
    expect(calls).toContainEqual({ connecting: false, enable: true });
  });

  it('still refuses a server its CA does not trust, as before', async () => {
    const agent = new Agent({ connect: directConnector({}) });
    await expect(get(agent, `https://127.0.0.1:${port(secure)}/`)).rejects.toThrow(
      /self-signed|unable to verify|certificate/i,
    );
  });

  it('reports a refused connection as such', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const free = port(closed);
    await new Promise((r) => closed.close(r));
    const agent = new Agent({ connect: directConnector({ timeout: 5_000 }) });
    await expect(get(agent, `http://127.0.0.1:${free}/`)).rejects.toThrow(/ECONNREFUSED/);
  });
});
