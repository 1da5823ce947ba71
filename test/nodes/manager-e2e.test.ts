import fs from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { selfSigned } from '../installers/openssl-ca.ts';
import { startNginx, type TestNginx } from '../installers/test-nginx.ts';
import { freePort } from '../support/apache.ts';
import {
  AGENT_BIN,
  managerMain,
  registerNewAgent,
  startManager,
  tempDir,
  waitFor,
  type ManagerProcess,
} from '../support/manager.ts';
import { createTestUser, startSshd, type TestSshd, type TestUser } from '../support/sshd.ts';
import { f5NodeAddArgs, startFakeF5WithSite, type FakeF5 } from '../fakes/f5/server.ts';
import { leafFingerprint } from '../../agent/nodes/fingerprint.ts';
import { describeWithTools } from '../support/tools.ts';

// Nodes end to end through the real entry points: nodes add (SSH, sudo, password from the
// agent's local-store), nodes discover, install add, the manager's CA signing the CSR,
// installs list showing the fingerprint that `openssl s_client` now sees.

async function sClientFingerprint(port: number, servername: string): Promise<string> {
  const hello = await execa(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername],
    {
      input: '',
      reject: false,
    },
  );
  const fp = await execa('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], {
    input: hello.stdout,
  });
  return fp.stdout.replace(/^.*=/, '').replaceAll(':', '').trim().toLowerCase();
}

const asRoot = process.getuid?.() === 0;
const tools = asRoot ? ['nginx', 'openssl', 'sshd', 'sudo'] : ['root'];

describeWithTools('nodes and installations end to end through the manager', tools, () => {
  const dir = tempDir('nodes-e2e');
  let manager: ManagerProcess;
  let baseDir: string;
  let agent: ResultPromise | undefined;
  let sshd: TestSshd;
  let user: TestUser;
  let nginx: TestNginx;
  let port: number;
  let oldFingerprint: string;
  let f5: FakeF5;
  const f5Password = 'bigip-Adm1n-pw';

  const cli = async (args: string[]) => {
    const res = await managerMain([...args, '--data', manager.dataDir]);
    expect(res.exitCode, res.stderr).toBe(0);
    return res.stdout;
  };
  const json = async <T>(args: string[]) => JSON.parse(await cli([...args, '--json'])) as T;

  beforeAll(async () => {
    port = await freePort();
    const certs = path.join(dir, 'certs');
    fs.mkdirSync(certs, { mode: 0o700 });
    const site = await selfSigned(certs, 'shop.test');
    nginx = await startNginx(path.join(dir, 'nginx'), [{ name: 'shop.test', port, ...site }]);
    oldFingerprint = await sClientFingerprint(port, 'shop.test');
    sshd = await startSshd(path.join(dir, 'sshd'));
    user = await createTestUser(sshd);

    f5 = await startFakeF5WithSite(dir, f5Password);
    fs.writeFileSync(path.join(dir, 'f5-mgmt.pem'), f5.caPem);
    manager = await startManager({ heartbeatMs: 300 });
    ({ baseDir } = await registerNewAgent(manager, 'node-agent'));
    // --base-dir alone: the node tasks find the local-store through the service's paths.
    const env = { CERTAGENT_BASE_DIR: undefined };
    await execa('node', [AGENT_BIN, '--base-dir', baseDir, 'credstore', 'init-local'], { env });
    await execa(
      'node',
      [
        AGENT_BIN,
        '--base-dir',
        baseDir,
        'credstore',
        'secret',
        'set',
        'web1-login',
        '--username',
        user.name,
        '--password-stdin',
      ],
      {
        env,
        input: `${user.password}\n`,
      },
    );
    await execa(
      'node',
      [
        AGENT_BIN,
        '--base-dir',
        baseDir,
        'credstore',
        'secret',
        'set',
        'bigip',
        '--username',
        'admin',
        '--password-stdin',
      ],
      {
        env,
        input: `${f5Password}\n`,
      },
    );
    agent = execa('node', [AGENT_BIN, '--base-dir', baseDir, 'run'], {
      env,
      reject: false,
      stdin: 'ignore',
    });
  });

  afterAll(async () => {
    agent?.kill('SIGTERM');
    await agent;
    await manager?.stop();
    await nginx?.stop();
    await f5?.close();
    await sshd?.stop();
    await user?.remove();
    for (const d of [dir, manager?.dataDir, baseDir])
      if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('adds an SSH node whose login stays in the agent', async () => {
    const out = await cli([
      'nodes',
      'add',
      '--agent',
      'node-agent',
      '--name',
      'web1',
      '--connection',
      'ssh',
      '--host',
      '127.0.0.1',
      '--port',
      String(sshd.port),
      '--credstore',
      'local-store',
      '--secret',
      'web1-login',
      '--command',
      `nginx=${nginx.command.join(' ')}`,
    ]);
    expect(out).toMatch(/node web1 \(ssh 127\.0\.0\.1\) added/);
    const bad = await managerMain([
      'nodes',
      'add',
      '--data',
      manager.dataDir,
      '--agent',
      'node-agent',
      '--name',
      'w2',
      '--connection',
      'ssh',
      '--host',
      'x',
    ]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/needs --credstore and --secret/);
  });

  it('discovers the nginx site over SSH with sudo', async () => {
    await cli(['nodes', 'discover', '--node', 'web1']);
    const nodes = await waitFor(
      'site discovered',
      async () => {
        const list = await json<Array<{ sites: Array<{ id: string; fingerprint: string }> }>>([
          'nodes',
          'list',
        ]);
        return list[0]?.sites.length ? list : undefined;
      },
      60_000,
    );
    expect(nodes[0]!.sites).toEqual([
      expect.objectContaining({ id: `nginx:shop.test:${port}`, fingerprint: oldFingerprint }),
    ]);
  });

  it(
    'installs a certificate from the manager CA; ' + 'installs list shows the served fingerprint',
    async () => {
      await cli(['install', 'add', '--node', 'web1', '--site', `nginx:shop.test:${port}`]);
      const [install] = await waitFor(
        'installation finished',
        async () => {
          const list = await json<
            Array<{ state: string; fingerprint: string; error: string | null; notAfter: string }>
          >(['installs', 'list']);
          return ['installed', 'failed'].includes(list[0]?.state ?? '') ? list : undefined;
        },
        90_000,
      );
      expect(install!.error).toBeNull();
      expect(install!.state).toBe('installed');
      expect(install!.fingerprint).not.toBe(oldFingerprint);
      expect(await sClientFingerprint(port, 'shop.test')).toBe(install!.fingerprint);

      const leaf = fs.readFileSync(path.join(dir, 'certs', 'shop.test.crt'), 'utf8');
      const issuer = await execa('openssl', ['x509', '-noout', '-issuer'], { input: leaf });
      expect(issuer.stdout).toMatch(/certagent manager CA/);
      // The pending key was removed once placed; the node's key file is 0600.
      expect(fs.readdirSync(path.join(baseDir, 'conf', 'pending-keys'))).toEqual([]);
      expect(fs.statSync(path.join(dir, 'certs', 'shop.test.key')).mode & 0o777).toBe(0o600);
    },
  );

  it('queues renewal of certificates expiring within --days, and only those', async () => {
    expect(await cli(['installs', 'renew', '--days', '1'])).toBe('0 renewal(s) queued\n');
    // The manager's CA issues 90-day certificates: a 365-day horizon renews the one installed.
    expect(await cli(['installs', 'renew', '--days', '365'])).toBe('1 renewal(s) queued\n');
    expect(await cli(['installs', 'renew', '--days', '365'])).toBe('0 renewal(s) queued\n');
    const list = await waitFor(
      'renewal finished',
      async () => {
        const l = await json<
          Array<{ id: string; state: string; fingerprint: string; renewalOf: string | null }>
        >(['installs', 'list']);
        return l.length === 2 && l[1]!.state === 'installed' ? l : undefined;
      },
      90_000,
    );
    expect(list[1]!.renewalOf).toBe(list[0]!.id);
    expect(list[1]!.fingerprint).not.toBe(list[0]!.fingerprint);
    expect(await sClientFingerprint(port, 'shop.test')).toBe(list[1]!.fingerprint);
  });

  it(
    'reports a failed installation with its ' + 'step, and the old certificate stays served',
    async () => {
      const served = await sClientFingerprint(port, 'shop.test');
      const broken = path.join(nginx.dir, 'sites-enabled', 'zz-broken.conf');
      fs.writeFileSync(broken, 'server { listen 127.0.0.1:1 ssl; not_a_directive; }\n');
      try {
        await cli(['install', 'add', '--node', 'web1', '--site', `nginx:shop.test:${port}`]);
        const list = await waitFor(
          'failed installation',
          async () => {
            const l = await json<Array<{ state: string; error: string | null }>>([
              'installs',
              'list',
            ]);
            return l.length === 3 && ['installed', 'failed'].includes(l[2]!.state) ? l : undefined;
          },
          90_000,
        );
        expect(list[2]!.state).toBe('failed');
        // The agent looks at the node again before making a key: a configuration that no
        // longer passes stops the installation before anything is touched.
        expect(list[2]!.error).toMatch(/^discover: .*unknown directive "not_a_directive"/);
      } finally {
        fs.rmSync(broken);
      }
      expect(await sClientFingerprint(port, 'shop.test')).toBe(served);
    },
  );

  it('installs on an F5 BIG-IP node over iControl REST (fake) through the same tasks', async () => {
    await cli(f5NodeAddArgs(f5, 'node-agent', path.join(dir, 'f5-mgmt.pem')));
    await cli(['nodes', 'discover', '--node', 'lb1']);
    await waitFor(
      'F5 site discovered',
      async () => {
        const list = await json<Array<{ name: string; sites: unknown[] }>>(['nodes', 'list']);
        return list.find((n) => n.name === 'lb1')?.sites.length ? list : undefined;
      },
      60_000,
    );
    await cli([
      'install',
      'add',
      '--node',
      'lb1',
      '--site',
      'f5:/Common/lb-ssl:443',
      '--subject',
      'lb.test',
      '--san',
      'lb.test',
    ]);
    const install = await waitFor(
      'F5 installation finished',
      async () => {
        const l = await json<
          Array<{ node: string; state: string; fingerprint: string; error: string | null }>
        >(['installs', 'list']);
        const i = l.find((x) => x.node === 'lb1');
        return i && ['installed', 'failed'].includes(i.state) ? i : undefined;
      },
      90_000,
    );
    expect(install.error).toBeNull();
    const chain = f5.state.profiles.get('/Common/lb-ssl')!.certKeyChain[0]!;
    expect(leafFingerprint(f5.state.certs.get(chain.cert!)!)).toBe(install.fingerprint);
    expect(f5.state.tokens.size).toBe(0);
  });

  it('refuses an install for a site the node does not have', async () => {
    const res = await managerMain([
      'install',
      'add',
      '--data',
      manager.dataDir,
      '--node',
      'web1',
      '--site',
      'nginx:nope:1',
    ]);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/has no site "nginx:nope:1"/);
  });

  it(
    'writes the SSH password and no private ' + 'key to any log, task result or database row',
    async () => {
      const files = [
        ...fs.readdirSync(path.join(baseDir, 'logs')).map((f) => path.join(baseDir, 'logs', f)),
        ...fs
          .readdirSync(manager.dataDir, { recursive: true })
          .map((f) => path.join(manager.dataDir, String(f))),
      ].filter((f) => fs.statSync(f).isFile());
      expect(files.length).toBeGreaterThan(1);
      for (const f of files) {
        expect(fs.readFileSync(f).includes(user.password), f).toBe(false);
        expect(fs.readFileSync(f).includes(f5Password), f).toBe(false);
        // The CA's own key file is the one place a private key belongs.
        if (/\.(log|db|db-wal)$|\.log\./.test(f))
          expect(fs.readFileSync(f).includes('PRIVATE KEY'), f).toBe(false);
      }
    },
  );
});
