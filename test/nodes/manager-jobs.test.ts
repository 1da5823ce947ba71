import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { leafFingerprint } from '../../agent/nodes/fingerprint.ts';
import { f5NodeAddArgs, startFakeF5WithSite, type FakeF5 } from '../fakes/f5/server.ts';
import { startFakeVault, type FakeVault } from '../fakes/vault/server.ts';
import {
  AGENT_BIN,
  spawnServe,
  managerMain,
  registerNewAgent,
  tempDir,
  waitFor,
  type ManagerProcess,
} from '../support/manager.ts';
import { describeWithTools } from '../support/tools.ts';

// What `serve` does by itself for nodes: periodic renewal (--renew-days/--renew-interval)
// and, on start, signing the CSRs a dead server process left in `signing`. The node is a
// fake BIG-IP whose login sits in the agent's local-store; the agent runs with --base-dir
// only (no CERTAGENT_BASE_DIR), so its node tasks must find that store through the paths
// the service was started with.

const SITE = 'f5:/Common/lb-ssl:443';
const RENEW_ARGS = ['--renew-days', '30', '--renew-interval', '300'];

interface Install {
  id: string;
  state: string;
  fingerprint: string | null;
  error: string | null;
  renewalOf: string | null;
}

/** `serve` with the renewal options, on a given port (0 = any); resolves once it listens. */
async function serve(dataDir: string, port: number) {
  const { process: proc, port: bound } = await spawnServe(dataDir, port, '300', RENEW_ARGS);
  return { proc, port: bound };
}

describeWithTools('manager periodic renewal and resumed signing', ['openssl'], () => {
  const dir = tempDir('node-jobs');
  const dataDir = path.join(dir, 'manager');
  const f5Password = 'bigip-J0bs-pw';
  let server: Awaited<ReturnType<typeof serve>>;
  let manager: ManagerProcess;
  let baseDir: string;
  let agent: ResultPromise | undefined;
  let f5: FakeF5;
  let vault: FakeVault;
  let agentArgs: (args: string[]) => string[];
  const env = { CERTAGENT_BASE_DIR: undefined };

  const cli = async (args: string[]) => {
    const res = await managerMain([...args, '--data', dataDir]);
    expect(res.exitCode, res.stderr).toBe(0);
    return res.stdout;
  };
  const installs = async () => JSON.parse(await cli(['installs', 'list', '--json'])) as Install[];
  const servedFingerprint = () => {
    const chain = f5.state.profiles.get('/Common/lb-ssl')!.certKeyChain[0]!;
    return leafFingerprint(f5.state.certs.get(chain.cert!)!);
  };
  const withDb = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(path.join(dataDir, 'manager.db'), { timeout: 5000 });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    f5 = await startFakeF5WithSite(dir, f5Password);
    fs.writeFileSync(path.join(dir, 'f5-mgmt.pem'), f5.caPem);

    server = await serve(dataDir, 0);
    manager = {
      dataDir,
      port: server.port,
      url: `https://127.0.0.1:${server.port}`,
      caPath: path.join(dataDir, 'ca.pem'),
      stop: async () => undefined,
      kill: async () => undefined,
      restart: async () => undefined,
    };
    ({ baseDir } = await registerNewAgent(manager, 'jobs-agent'));
    // No CERTAGENT_BASE_DIR anywhere: --base-dir alone must be enough.
    agentArgs = (args: string[]) => [AGENT_BIN, '--base-dir', baseDir, ...args];
    await execa('node', agentArgs(['credstore', 'init-local']), { env });
    await execa(
      'node',
      agentArgs(['credstore', 'secret', 'set', 'bigip', '--username', 'admin', '--password-stdin']),
      { env, input: `${f5Password}\n` },
    );
    agent = execa('node', agentArgs(['run']), { env, reject: false, stdin: 'ignore' });

    await cli(f5NodeAddArgs(f5, 'jobs-agent', path.join(dir, 'f5-mgmt.pem')));
  });

  afterAll(async () => {
    agent?.kill('SIGTERM');
    await agent;
    server?.proc.kill('SIGTERM');
    await server?.proc;
    await f5?.close();
    await vault?.close();
    for (const d of [dir, baseDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it(
    'refuses renewal options that are not ' + 'numbers or would renew every new certificate',
    async () => {
      for (const [args, message] of [
        [['--renew-days', '90'], /--renew-days must be an integer from 1 to 89/],
        [['--renew-days', 'soon'], /--renew-days must be an integer/],
        [['--renew-days', '0'], /--renew-days must be an integer/],
        [['--renew-interval', '5'], /--renew-interval must be an integer of at least 100 ms/],
      ] as const) {
        const res = await managerMain([
          'serve',
          '--data',
          path.join(dir, 'unused'),
          '--listen',
          '127.0.0.1:0',
          ...args,
        ]);
        expect(res.exitCode).toBe(2);
        expect(res.stderr).toMatch(message);
      }
      expect(fs.existsSync(path.join(dir, 'unused'))).toBe(false);
    },
  );

  it(
    'runs a node task that needs the local-store ' + 'of an agent started with --base-dir only',
    async () => {
      await cli(['nodes', 'discover', '--node', 'lb1']);
      const sites = await waitFor(
        'F5 site discovered',
        async () => {
          const list = JSON.parse(await cli(['nodes', 'list', '--json'])) as Array<{
            sites: Array<{ id: string }>;
          }>;
          return list[0]?.sites.length ? list[0].sites : undefined;
        },
        60_000,
      );
      expect(sites.map((s) => s.id)).toEqual([SITE]);
    },
  );

  it('logs in to a Vault store once for many node tasks (the service keeps it open)', async () => {
    vault = await startFakeVault({ roleId: 'agent-role', secretId: 'agent-secret-id' });
    vault.mounts.set('secret', {
      version: 2,
      secrets: new Map([['f5/admin', { username: 'admin', password: f5Password }]]),
    });
    const add = await execa(
      'node',
      agentArgs([
        'credstore',
        'add',
        'corp-vault',
        '--type',
        'vault',
        '--address',
        vault.url,
        '--role-id',
        'agent-role',
        '--secret-stdin',
      ]),
      { env, input: 'agent-secret-id\n', reject: false },
    );
    expect(add.exitCode, add.stderr).toBe(0);
    await cli([
      'nodes',
      'add',
      '--agent',
      'jobs-agent',
      '--name',
      'lb2',
      '--connection',
      'rest',
      '--host',
      '127.0.0.1',
      '--port',
      String(f5.port),
      '--credstore',
      'corp-vault',
      '--secret',
      'f5/admin',
      '--ca-file',
      path.join(dir, 'f5-mgmt.pem'),
    ]);
    const reads = () => vault.requests.filter((r) => r.path === '/v1/secret/data/f5/admin').length;
    for (let round = 1; round <= 3; round++) {
      await cli(['nodes', 'discover', '--node', 'lb2']);
      await waitFor(`Vault secret read ${round} time(s)`, async () => reads() >= round, 60_000);
    }
    const logins = vault.requests.filter((r) => r.path === '/v1/auth/approle/login');
    expect(logins).toHaveLength(1);
  });

  it('renews by itself a certificate that comes within --renew-days of expiry, once', async () => {
    await cli(['install', 'add', '--node', 'lb1', '--site', SITE, '--subject', 'lb.test']);
    const [first] = await waitFor('installation finished', async () => {
      const l = await installs();
      return ['installed', 'failed'].includes(l[0]?.state ?? '') ? l : undefined;
    });
    expect(first!.error).toBeNull();
    expect(first!.state).toBe('installed');
    // A fresh 90-day certificate is not due: several intervals pass without a renewal.
    await sleep(1000);
    expect(await installs()).toHaveLength(1);

    // Bring it near expiry, as time would.
    const soon = new Date(Date.now() + 86_400_000).toISOString();
    withDb((db) =>
      db.prepare('UPDATE installs SET not_after = ? WHERE id = ?').run(soon, first!.id),
    );
    const list = await waitFor(
      'automatic renewal installed',
      async () => {
        const l = await installs();
        return l.length === 2 && ['installed', 'failed'].includes(l[1]!.state) ? l : undefined;
      },
      60_000,
    );
    expect(list[1]!.error).toBeNull();
    expect(list[1]!.renewalOf).toBe(first!.id);
    expect(list[1]!.fingerprint).not.toBe(first!.fingerprint);
    expect(servedFingerprint()).toBe(list[1]!.fingerprint);
    // The renewed certificate is far from expiry and the old one has its renewal: no more.
    await sleep(1000);
    expect(await installs()).toHaveLength(2);
  });

  it(
    'signs on restart the CSRs a server that ' + 'stopped mid-installation left in signing',
    async () => {
      server.proc.kill('SIGKILL');
      await server.proc;

      // What the dead server left: the agent's key waiting in its pending-keys, the CSR
      // stored with state `signing`, and no certificate. Beside it, a row from before CSRs
      // were kept and one with a tampered CSR.
      const good = crypto.randomUUID();
      const key = path.join(baseDir, 'conf', 'pending-keys', `${good}.key`);
      fs.mkdirSync(path.dirname(key), { recursive: true, mode: 0o700 });
      const csr = await execa('openssl', [
        'req',
        '-new',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-subj',
        '/CN=lb.test',
      ]);
      fs.chmodSync(key, 0o600);
      const noCsr = crypto.randomUUID();
      const tampered = crypto.randomUUID();
      const now = new Date().toISOString();
      const subject = JSON.stringify({ commonName: 'lb.test', altNames: [] });
      withDb((db) => {
        const insert = db.prepare(
          'INSERT INTO installs(id, node_name, site_id, subject, state, csr, created_at, ' +
            "updated_at) VALUES (?, 'lb1', ?, ?, 'signing', ?, ?, ?)",
        );
        insert.run(good, SITE, subject, csr.stdout, now, now);
        insert.run(noCsr, SITE, subject, null, now, now);
        insert.run(
          tampered,
          SITE,
          subject,
          csr.stdout.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n'),
          now,
          now,
        );
      });

      server = await serve(dataDir, manager.port);
      const byId = await waitFor(
        'resumed installations finished',
        async () => {
          const l = new Map((await installs()).map((i) => [i.id, i]));
          const done = [good, noCsr, tampered].every((id) =>
            ['installed', 'failed'].includes(l.get(id)?.state ?? ''),
          );
          return done ? l : undefined;
        },
        60_000,
      );
      expect(byId.get(good)!.error).toBeNull();
      expect(byId.get(good)!.state).toBe('installed');
      expect(servedFingerprint()).toBe(byId.get(good)!.fingerprint);
      expect(fs.existsSync(key)).toBe(false);

      expect(byId.get(noCsr)!.state).toBe('failed');
      expect(byId.get(noCsr)!.error).toMatch(
        /stopped before signing and kept no CSR; run "install add" again/,
      );
      expect(byId.get(tampered)!.state).toBe('failed');
      expect(byId.get(tampered)!.error).toMatch(/the CA refused the request/);
    },
  );
});
