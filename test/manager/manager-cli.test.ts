import fs from 'node:fs';
import os from 'node:os';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPendingIdentity } from '../../agent/registration/agent-identity.ts';
import {
  addAgent,
  managerMain as managerCli,
  startManager,
  tempDir,
  waitFor,
  type ManagerProcess,
} from '../support/manager.ts';
import { describeWithTools } from '../support/tools.ts';

// The manager's verbs through its main() (the e2e suite drives the real entry point),
// and its HTTPS API probed with bad, replayed and unauthenticated requests.
let manager: ManagerProcess;
const dirs: string[] = [];

beforeAll(async () => {
  manager = await startManager({ heartbeatMs: 200 });
  dirs.push(manager.dataDir);
});

afterAll(async () => {
  await manager?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function listAgents(): Promise<
  Array<{ name: string; id: string; status: string; version: string | null }>
> {
  const res = await managerCli(['agents', 'list', '--data', manager.dataDir, '--json']);
  expect(res.exitCode).toBe(0);
  return JSON.parse(res.stdout);
}

function api(cert?: { cert: string; key: string }) {
  const dispatcher = new Agent({
    connect: { ca: fs.readFileSync(manager.caPath, 'utf8'), ...cert },
  });
  return async (method: 'GET' | 'POST', path: string, body?: unknown, raw?: string) => {
    const res = await request(`${manager.url}${path}`, {
      method,
      dispatcher,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
}

async function registerOverHttp(token: string) {
  const pending = await createPendingIdentity(os.hostname());
  const res = await api()('POST', '/v1/register', {
    token,
    csr: pending.csrPem,
    version: '9.9.9',
    hostname: 'h',
  });
  return { ...res, key: pending.keyPem };
}

describe('certagent-manager verbs', () => {
  it('adds an agent as Pending and prints its token once', async () => {
    const { id, token } = await addAgent(manager.dataDir, 'pending-one');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const row = (await listAgents()).find((a) => a.name === 'pending-one');
    expect(row).toMatchObject({ id, status: 'Pending', version: null });
    expect(JSON.stringify(row)).not.toContain(token);
  });

  it('keeps only a hash of the token in the database', async () => {
    const { token } = await addAgent(manager.dataDir, 'hash-only');
    const files = fs.readdirSync(manager.dataDir).filter((f) => f.startsWith('manager.db'));
    for (const f of files)
      expect(fs.readFileSync(`${manager.dataDir}/${f}`).includes(token)).toBe(false);
    expect(fs.statSync(`${manager.dataDir}/ca-key.pem`).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['a duplicate name', ['agents', 'add', '--name', 'pending-one'], /already exists/],
    ['a bad name', ['agents', 'add', '--name', 'bad name;'], /not valid/],
    ['a missing name', ['agents', 'add'], /--name/],
    [
      'bad ports',
      [
        'discovery',
        'add',
        '--agent',
        'pending-one',
        '--targets',
        '127.0.0.1',
        '--ports',
        '0,70000',
      ],
      /bad port '0'/,
    ],
    [
      'a bad target',
      ['discovery', 'add', '--agent', 'pending-one', '--targets', 'a b;rm', '--ports', '443'],
      /bad target 'a b;rm'/,
    ],
    [
      'an unknown agent',
      ['discovery', 'add', '--agent', 'ghost', '--targets', 'h', '--ports', '443'],
      /no agent named "ghost"/,
    ],
  ])('exits 2 on %s', async (_title, args, message) => {
    const res = await managerCli([...args, '--data', manager.dataDir]);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(message);
  });

  it('exits 2 on a bad --listen and 1 on a missing data directory', async () => {
    const bad = await managerCli(['serve', '--data', tempDir('unused'), '--listen', 'localhost']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/HOST:PORT/);
    const missing = await managerCli(['agents', 'list', '--data', '/nonexistent/certagent']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
  });

  it('answers --help on every verb', async () => {
    for (const verb of [
      ['serve'],
      ['agents', 'add'],
      ['agents', 'list'],
      ['discovery', 'add'],
      ['certs', 'list'],
      ['tasks', 'list'],
    ]) {
      const res = await managerCli([...verb, '--help']);
      expect(res.exitCode, verb.join(' ')).toBe(0);
      expect(res.stdout).toMatch(/Usage: certagent-manager/);
    }
  });
});

// openssl makes the foreign client certificate.
describeWithTools('registration API', ['openssl'], () => {
  it('accepts a token once, then refuses it', async () => {
    const { token } = await addAgent(manager.dataDir, 'single-use');
    const first = await registerOverHttp(token);
    expect(first.status).toBe(200);
    expect(String(first.body.certificate)).toMatch(/BEGIN CERTIFICATE/);
    const second = await registerOverHttp(token);
    expect(second.status).toBe(401);
    expect(second.body).toMatchObject({ code: 'token-invalid' });
  });

  it('refuses an unknown token, a bad CSR, bad JSON and a missing field', async () => {
    expect((await registerOverHttp('not-a-token')).status).toBe(401);
    const { token } = await addAgent(manager.dataDir, 'bad-csr');
    const call = api();
    const badCsr = await call('POST', '/v1/register', {
      token,
      csr: 'garbage',
      version: '1',
      hostname: 'h',
    });
    expect(badCsr).toMatchObject({ status: 400, body: { code: 'bad-csr' } });
    expect((await call('POST', '/v1/register', undefined, '{not json')).body).toMatchObject({
      code: 'bad-json',
    });
    expect((await call('POST', '/v1/register', { token })).body).toMatchObject({
      code: 'bad-request',
    });
    const huge = JSON.stringify({ token, csr: 'x'.repeat(100 * 1024) });
    const tooLarge = await call('POST', '/v1/register', undefined, huge);
    expect(tooLarge).toMatchObject({ status: 413, body: { code: 'too-large' } });
    expect((await call('GET', '/v1/nowhere')).status).toBe(404);
  });

  it('refuses agent calls without a client certificate or with a foreign one', async () => {
    expect((await api()('GET', '/v1/tasks')).body).toMatchObject({
      code: 'client-certificate-required',
    });
    // A self-made certificate not issued by this manager's CA.
    const foreign = await createPendingIdentity('intruder');
    const selfSigned = await import('node:child_process').then(({ execFileSync }) => {
      const dir = tempDir('foreign');
      dirs.push(dir);
      fs.writeFileSync(`${dir}/k.pem`, foreign.keyPem);
      execFileSync('openssl', [
        'req',
        '-x509',
        '-key',
        `${dir}/k.pem`,
        '-subj',
        '/CN=x',
        '-days',
        '1',
        '-out',
        `${dir}/c.pem`,
      ]);
      return fs.readFileSync(`${dir}/c.pem`, 'utf8');
    });
    const res = await api({ cert: selfSigned, key: foreign.keyPem })('GET', '/v1/tasks');
    expect(res.body).toMatchObject({ code: 'client-certificate-required' });
  });

  it('moves an agent Pending → Connected → Disconnected with heartbeats', async () => {
    const { token } = await addAgent(manager.dataDir, 'beating');
    const reg = await registerOverHttp(token);
    const call = api({ cert: String(reg.body.certificate), key: reg.key });
    const hb = await call('POST', '/v1/heartbeat', { version: '9.9.9', queuedBatches: 0 });
    expect(hb).toMatchObject({ status: 200, body: { heartbeatIntervalMs: 200 } });

    // Keep beating while the (slow to start) CLI looks, then fall silent.
    let beating = true;
    const beats = (async () => {
      while (beating) {
        await call('POST', '/v1/heartbeat', { version: '9.9.9', queuedBatches: 0 });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const row = (await listAgents()).find((a) => a.name === 'beating');
      expect(row).toMatchObject({ status: 'Connected', version: '9.9.9' });
    } finally {
      beating = false;
      await beats;
    }
    await waitFor('Disconnected after missed heartbeats', async () =>
      (await listAgents()).find((a) => a.name === 'beating' && a.status === 'Disconnected'),
    );
    expect(
      (await call('POST', '/v1/heartbeat', { version: '9.9.9', queuedBatches: -1 })).status,
    ).toBe(400);
  });

  it('stores a result batch once and refuses one for another agent', async () => {
    const { token } = await addAgent(manager.dataDir, 'reporter');
    const reg = await registerOverHttp(token);
    const call = api({ cert: String(reg.body.certificate), key: reg.key });
    const queued = await managerCli([
      'discovery',
      'add',
      '--data',
      manager.dataDir,
      '--agent',
      'reporter',
      '--targets',
      '127.0.0.1',
      '--ports',
      '1',
      '--json',
    ]);
    const taskId = JSON.parse(queued.stdout).id as string;
    const tasks = await call('GET', '/v1/tasks');
    expect(tasks.body.tasks).toEqual([expect.objectContaining({ id: taskId, kind: 'discovery' })]);

    const item = {
      host: '127.0.0.1',
      address: '127.0.0.1',
      port: 1,
      sni: null,
      tlsVersion: null,
      cipher: null,
      chain: [],
      error: { code: 'refused', message: 'x' },
      scannedAt: new Date().toISOString(),
    };
    const batch = { batchId: 'b-1', taskId, items: [item], final: true };
    expect((await call('POST', '/v1/results', batch)).body).toEqual({ batchId: 'b-1' });
    expect((await call('POST', '/v1/results', batch)).body).toEqual({ batchId: 'b-1' });
    const bad = await call('POST', '/v1/results', {
      ...batch,
      batchId: 'b-2',
      items: [{ ...item, port: 0 }],
    });
    expect(bad).toMatchObject({ status: 400, body: { code: 'bad-request' } });

    const listed = await managerCli([
      'tasks',
      'list',
      '--data',
      manager.dataDir,
      '--agent',
      'reporter',
      '--json',
    ]);
    expect(JSON.parse(listed.stdout)[0]).toMatchObject({ state: 'done', result: { endpoints: 1 } });

    const other = await registerOverHttp((await addAgent(manager.dataDir, 'other')).token);
    const otherCall = api({ cert: String(other.body.certificate), key: other.key });
    expect((await otherCall('POST', '/v1/results', { ...batch, batchId: 'b-3' })).status).toBe(404);
  });
});
