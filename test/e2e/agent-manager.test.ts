import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  makeCert,
  makeChain,
  opensslFingerprint,
  type TestChain,
  type TestCert,
} from '../support/certs.ts';
import {
  agentCli,
  managerCli,
  managerMain,
  startAgent,
  startManager,
  tempDir,
  waitFor,
  type ManagerProcess,
  registerArgs,
} from '../support/manager.ts';
import { freePorts, startNginx, type NginxServer } from '../support/nginx.ts';
import { describeWithTools } from '../support/tools.ts';

// The first slice end to end, through the real entry points (bin/*.mjs in child
// processes): manager serve, agents add, register, run, discovery over real nginx TLS
// ports, certs list, a manager crash mid-task, and no token in any log.

interface Fixture {
  dir: string;
  nginx: NginxServer;
  silent: net.Server;
  ports: Record<'rsa' | 'ec' | 'expired' | 'late' | 'closed' | 'silent', number>;
  rsa: TestChain;
  ec: TestChain;
  expired: TestCert;
  late: TestCert;
}

async function startTlsFixture(): Promise<Fixture> {
  const dir = tempDir('e2e-tls');
  const [rsa, ec, expired, late] = await Promise.all([
    makeChain(dir, { cn: 'rsa.e2e.test', sans: ['rsa.e2e.test', '127.0.0.1'] }),
    makeChain(dir, { cn: 'ec.e2e.test', key: { type: 'ec', curve: 'P-256' } }),
    makeCert(dir, {
      cn: 'expired.e2e.test',
      notBefore: new Date(Date.now() - 90 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    }),
    makeCert(dir, { cn: 'late.e2e.test' }),
  ]);
  const [p1, p2, p3, p4, p5, p6] = await freePorts(6);
  const ports = { rsa: p1!, ec: p2!, expired: p3!, late: p4!, closed: p5!, silent: p6! };
  const tls = (cert: string, key: string) =>
    `ssl_certificate ${cert}; ssl_certificate_key ${key}; return 200 "ok\\n";`;
  const nginx = await startNginx({
    dir: fs.mkdtempSync(path.join(dir, 'nginx-')),
    servers: [
      `listen 127.0.0.1:${ports.rsa} ssl; ${tls(rsa.fullchainPath, rsa.leaf.keyPath)}`,
      `listen 127.0.0.1:${ports.ec} ssl; ${tls(ec.fullchainPath, ec.leaf.keyPath)}`,
      `listen 127.0.0.1:${ports.expired} ssl; ${tls(expired.certPath, expired.keyPath)}`,
      `listen 127.0.0.1:${ports.late} ssl; ${tls(late.certPath, late.keyPath)}`,
    ],
  });
  // Accepts and never answers: keeps a discovery task busy for one probe timeout.
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(ports.silent, '127.0.0.1', r));
  return { dir, nginx, silent, ports, rsa, ec, expired, late };
}

describeWithTools('agent and manager end to end', ['nginx', 'openssl'], () => {
  let fx: Fixture;
  let manager: ManagerProcess;
  let token: string;
  let agent: ResultPromise | undefined;
  const baseDir = tempDir('e2e-agent');
  const otherBaseDir = tempDir('e2e-agent2');

  const json = async <T>(args: string[]): Promise<T> => {
    const res = await managerMain([...args, '--data', manager.dataDir, '--json']);
    expect(res.exitCode, res.stderr).toBe(0);
    return JSON.parse(res.stdout) as T;
  };
  // A discovery task for e2e-agent over 127.0.0.1; `managerCli` runs it as a user would.
  const addTask = (ports: number[], run = managerMain) =>
    run([
      'discovery',
      'add',
      '--data',
      manager.dataDir,
      '--agent',
      'e2e-agent',
      '--targets',
      '127.0.0.1',
      '--ports',
      ports.join(','),
    ]);
  const tasks = () =>
    json<Array<{ id: string; state: string; error: string | null }>>(['tasks', 'list']);
  const certs = () =>
    json<Array<{ sha256: string; subject: string; endpoints: Array<{ port: number }> }>>([
      'certs',
      'list',
    ]);
  const queued = () =>
    fs
      .readdirSync(path.join(baseDir, 'queue'))
      .filter((f) => f.endsWith('.json'))
      .map(
        (f) =>
          JSON.parse(fs.readFileSync(path.join(baseDir, 'queue', f), 'utf8')) as {
            final: boolean;
            taskId: string;
          },
      );

  beforeAll(async () => {
    fx = await startTlsFixture();
    manager = await startManager({ heartbeatMs: 300 });
    const added = await managerCli([
      'agents',
      'add',
      '--data',
      manager.dataDir,
      '--name',
      'e2e-agent',
      '--org',
      'Org',
      '--dept',
      'Ops',
      '--json',
    ]);
    expect(added.exitCode, added.stderr).toBe(0);
    token = JSON.parse(added.stdout).token;
  });

  afterAll(async () => {
    agent?.kill('SIGTERM');
    await agent;
    await manager?.stop();
    await fx?.nginx.stop();
    fx?.silent.close();
    for (const d of [fx?.dir, manager?.dataDir, baseDir, otherBaseDir])
      if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('registers with the token once; a second use is refused clearly', async () => {
    const first = await agentCli(baseDir, registerArgs(manager, token));
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/registered as e2e-agent/);
    expect(fs.statSync(path.join(baseDir, 'conf', 'agent.key')).mode & 0o777).toBe(0o600);

    const second = await agentCli(otherBaseDir, registerArgs(manager, token));
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(
      /installation token is unknown or was already used.*ask the administrator for a new one/,
    );
    expect(fs.existsSync(path.join(otherBaseDir, 'conf', 'agent.key'))).toBe(false);

    const again = await agentCli(baseDir, ['register', '--token', token, '--server', manager.url]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/already registered.*--force/);
  });

  it('runs as a service: the manager lists it Connected and status says connected', async () => {
    agent = startAgent(baseDir);
    await waitFor('agent Connected', async () => {
      const res = await managerCli(['agents', 'list', '--data', manager.dataDir]);
      return /e2e-agent\s+\S+\s+Connected\s+\d+\.\d+\.\d+/.test(res.stdout);
    });
    const status = await agentCli(baseDir, ['status', '--json']);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      registered: true,
      service: { running: true, connected: true },
    });
  });

  it('runs a discovery task and the manager lists every certificate', async () => {
    const { ports } = fx;
    const add = await addTask([ports.rsa, ports.ec, ports.expired, ports.closed], managerCli);
    expect(add.exitCode, add.stderr).toBe(0);
    await waitFor('discovery task done', async () =>
      (await tasks()).every((t) => t.state === 'done'),
    );

    const listed = await certs();
    const expected = [fx.rsa.leaf, fx.rsa.intermediate, fx.ec.leaf, fx.ec.intermediate, fx.expired];
    for (const cert of expected) {
      const sha = await opensslFingerprint(cert.certPath);
      expect(
        listed.map((c) => c.sha256),
        cert.certPath,
      ).toContain(sha);
    }
    const rsaLeafSha = await opensslFingerprint(fx.rsa.leaf.certPath);
    const rsaLeaf = listed.find((c) => c.sha256 === rsaLeafSha);
    expect(rsaLeaf?.endpoints).toEqual([expect.objectContaining({ port: ports.rsa })]);
  });

  it('loses no result when the manager is killed mid-task and restarted', async () => {
    const { ports } = fx;
    await addTask([ports.late, ports.silent]);
    await waitFor(
      'the agent took the task',
      async () => (await tasks()).some((t) => t.state === 'running'),
      30_000,
    );
    await manager.kill();

    // The scan finishes while the manager is down: its results wait on disk.
    const pending = await waitFor(
      'final batch queued on disk',
      async () => queued().some((b) => b.final) && queued(),
      60_000,
    );
    expect(pending.filter((b) => !b.final).length).toBeGreaterThan(0);
    const offline = JSON.parse((await agentCli(baseDir, ['status', '--json'])).stdout);
    expect(offline.service).toMatchObject({ running: true, connected: false });

    await manager.restart();
    await waitFor('queue drained', async () => queued().length === 0, 90_000);
    expect((await tasks()).map((t) => t.state)).toEqual(['done', 'done']);
    expect((await certs()).map((c) => c.sha256)).toContain(
      await opensslFingerprint(fx.late.certPath),
    );
  });

  it('runs a task again when the agent itself is killed mid-task', async () => {
    const { ports } = fx;
    await addTask([ports.silent, ports.rsa]);
    await waitFor('the agent took the task', async () =>
      (await tasks()).some((t) => t.state === 'running'),
    );
    agent!.kill('SIGKILL');
    await agent;
    expect(queued().some((b) => b.final)).toBe(false);

    agent = startAgent(baseDir);
    await waitFor(
      'task done after the restart',
      async () => (await tasks()).every((t) => t.state === 'done'),
      60_000,
    );
    expect(await tasks()).toHaveLength(3);
  });

  it('stops on SIGTERM; status then says the service is not running', async () => {
    agent!.kill('SIGTERM');
    expect((await agent!).exitCode).toBe(0);
    agent = undefined;
    const status = await agentCli(baseDir, ['status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/connection:\s+service not running/);
    expect(status.stdout).toMatch(/registered as e2e-agent/);
  });

  it('writes the token to no log file and keeps only its hash', () => {
    const files = [...walk(path.join(baseDir)), ...walk(otherBaseDir), ...walk(manager.dataDir)];
    expect(files.some((f) => f.includes(`${path.sep}logs${path.sep}`))).toBe(true);
    for (const file of files) expect(fs.readFileSync(file).includes(token), file).toBe(false);
  });
});

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.isFile() ? [p] : [];
  });
}
