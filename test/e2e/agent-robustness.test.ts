import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeCert, type TestCert } from '../support/certs.ts';
import { agentCli, startAgent, tempDir, waitFor } from '../support/manager.ts';
import { describeWithTools } from '../support/tools.ts';

// Failure paths of an agent that never reaches its manager: what agent.log and the
// command's output say, with a registered-looking base directory made by hand.

/** A base dir as `register` leaves it, pointing at `server`, with `cert` as identity. */
function fakeRegistered(cert: TestCert, server: string): string {
  const base = tempDir('robust');
  const conf = path.join(base, 'conf');
  fs.mkdirSync(conf, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(conf, 'agent.pem'), cert.pem);
  fs.writeFileSync(path.join(conf, 'agent.key'), fs.readFileSync(cert.keyPath), { mode: 0o600 });
  fs.writeFileSync(path.join(conf, 'manager-ca.pem'), cert.pem);
  fs.writeFileSync(
    path.join(conf, 'agent.json'),
    JSON.stringify({ server, agentId: 'a1', autoUpdate: false, proxy: {} }),
  );
  return base;
}

function agentLog(base: string): string {
  const file = path.join(base, 'logs', 'agent.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

describeWithTools('agent robustness', ['openssl'], () => {
  const dir = tempDir('robust-certs');
  let cert: TestCert;
  let closedUrl: string;

  beforeAll(async () => {
    cert = await makeCert(dir, { cn: 'agent.robust.test', key: { type: 'ec', curve: 'P-256' } });
    // A port that was free a moment ago and is closed now: connections are refused.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    closedUrl = `https://127.0.0.1:${port}`;
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('logs the first failure to reach the manager at warn, with the cause', async () => {
    const base = fakeRegistered(cert, closedUrl);
    const agent = startAgent(base);
    try {
      const line = await waitFor('the first connection failure in agent.log', async () =>
        agentLog(base)
          .split('\n')
          .find((l) => l.includes('unreachable')),
      );
      const entry = JSON.parse(line) as { level: number; err?: { message?: string } };
      expect(entry.level).toBe(40);
      expect(entry.err?.message).toMatch(/ECONNREFUSED/);
      expect(agentLog(base)).not.toContain('PRIVATE KEY');
    } finally {
      agent.kill('SIGTERM');
      await agent;
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('logs a failed register with its cause and without the token', async () => {
    const base = tempDir('robust-reg');
    const token = 'tok-robustness-5ecret';
    const res = await agentCli(base, ['register', '--server', closedUrl], {
      CERTAGENT_TOKEN: token,
    });
    expect(res.exitCode).toBe(1);
    const log = agentLog(base);
    const line = log.split('\n').find((l) => l.includes('registration failed'));
    expect(line).toBeDefined();
    expect(line).toMatch(/ECONNREFUSED/);
    expect(log).not.toContain(token);
    fs.rmSync(base, { recursive: true, force: true });
  });

  it.each(['agent.pem', 'agent.key'])(
    'refuses to start with a damaged conf/%s and says what to do',
    async (name) => {
      const base = fakeRegistered(cert, closedUrl);
      fs.writeFileSync(path.join(base, 'conf', name), 'garbage\n');
      const res = await agentCli(base, ['run']);
      expect(res.exitCode).toBe(1);
      expect(res.stderr).toContain(`${name} is damaged`);
      expect(res.stderr).toContain('register again with --force');
      expect(res.stderr).not.toContain('cannot reach the management server');
      fs.rmSync(base, { recursive: true, force: true });
    },
  );
});
