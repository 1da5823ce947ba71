import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostKeyPins } from '../../agent/connections/host-key-pins.ts';
import { SshConnection } from '../../agent/connections/ssh.ts';
import { WinRmConnection } from '../../agent/connections/winrm.ts';

// Peers that are not what the node record says: a port that accepts and never speaks, a
// web server answering HTML where WS-Man was expected. Each must end in a clear error.
describe('connections to hostile or wrong peers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-hostile-'));
  const sockets: net.Socket[] = [];
  let silent: net.Server;
  let html: http.Server;
  const port = (s: net.Server) => (s.address() as net.AddressInfo).port;

  beforeAll(async () => {
    silent = net.createServer((s) => sockets.push(s));
    html = http.createServer((_req, res) => {
      res
        .writeHead(500, { 'content-type': 'text/html' })
        .end('<html><body>Internal error</body></html>');
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
    html.closeAllConnections();
    await new Promise((r) => html.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives up on an SSH port that never sends a banner, naming host and port', async () => {
    const err = await SshConnection.open({
      host: '127.0.0.1',
      port: port(silent),
      credentials: { username: 'root', password: 'x' },
      pins: new HostKeyPins(path.join(dir, 'known-nodes.json')),
      readyTimeoutMs: 500,
    }).catch((e) => e);
    expect(err.code).toBe('ssh-connect-failed');
    expect(err.message).toContain(`127.0.0.1:${port(silent)}`);
    expect(fs.existsSync(path.join(dir, 'known-nodes.json'))).toBe(false);
  });

  it('reports an answer that is not a SOAP envelope instead of parsing it', async () => {
    const conn = new WinRmConnection({
      host: '127.0.0.1',
      port: port(html),
      auth: 'basic',
      credentials: { username: 'admin', password: 'secret-pw' },
    });
    const err = await conn.runPowerShell('hostname').catch((e) => e);
    await conn.close();
    expect(err.code).toBe('winrm-protocol');
    expect(err.message).toMatch(/HTTP 500 without a SOAP envelope: <html>/);
    expect(err.message).not.toContain('secret-pw');
  });

  it('reports a refused WinRM port as unreachable', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const p = port(closed);
    await new Promise((r) => closed.close(r));
    const conn = new WinRmConnection({
      host: '127.0.0.1',
      port: p,
      auth: 'ntlm',
      credentials: { username: 'a', password: 'b' },
    });
    await expect(conn.runPowerShell('hostname')).rejects.toMatchObject({
      code: 'winrm-unreachable',
    });
    await conn.close();
  });
});
