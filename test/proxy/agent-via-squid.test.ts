import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SecretBox } from '../../agent/config/secret-box.ts';
import {
  addAgent,
  agentCli,
  managerCli,
  managerMain,
  startAgent,
  startManager,
  tempDir,
  waitFor,
  type ManagerProcess,
} from '../support/manager.ts';
import { startSquid, type Squid } from '../support/squid.ts';
import { describeWithTools } from '../support/tools.ts';

// The agent's whole conversation with the manager (registration, heartbeats, task
// results) through a real squid: one agent finds it through a PAC file and logs in with
// basic authentication, the other is pointed at a squid that demands NTLM.

const BASIC_PASSWORD = 'Agent-Basic-Pr0xy';
const NTLM_PASSWORD = 'Agent-Ntlm-Pr0xy';

/** Writes the proxy section the way `config` does, password sealed, never on a command line. */
function writeProxyConfig(baseDir: string, proxy: Record<string, unknown>, password: string): void {
  const conf = path.join(baseDir, 'conf');
  fs.mkdirSync(conf, { recursive: true, mode: 0o700 });
  const sealed = SecretBox.open(path.join(conf, 'secret.key')).seal(password, 'proxy.password');
  const config = { autoUpdate: false, proxy: { ...proxy, password: sealed } };
  fs.writeFileSync(path.join(conf, 'agent.json'), JSON.stringify(config), { mode: 0o600 });
}

describeWithTools('agent to manager through squid', ['squid', 'htpasswd'], () => {
  let manager: ManagerProcess;
  let basic: Squid;
  let ntlm: Squid;
  let pac: http.Server;
  const agents: ResultPromise[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    [manager, basic, ntlm] = await Promise.all([
      startManager({ heartbeatMs: 300 }),
      startSquid({ basicUsers: { agent: BASIC_PASSWORD } }),
      startSquid({ ntlm: true }),
    ]);
    pac = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig' });
      res.end(`function FindProxyForURL(url, host) { return "PROXY 127.0.0.1:${basic.port}"; }`);
    });
    await new Promise<void>((resolve) => pac.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const a of agents) a.kill('SIGTERM');
    await Promise.all(agents);
    await Promise.all([manager?.stop(), basic?.stop(), ntlm?.stop()]);
    await new Promise((resolve) => pac?.close(resolve));
    for (const d of [...dirs, manager?.dataDir])
      if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  async function registerAndRun(name: string, proxy: Record<string, unknown>, password: string) {
    const baseDir = tempDir(`proxy-${name}`);
    dirs.push(baseDir);
    writeProxyConfig(baseDir, proxy, password);
    const { token } = await addAgent(manager.dataDir, name);
    const reg = await agentCli(
      baseDir,
      ['register', '--server', manager.url, '--ca', manager.caPath],
      {
        CERTAGENT_TOKEN: token,
      },
    );
    expect(reg.exitCode, reg.stderr).toBe(0);
    agents.push(startAgent(baseDir));
    // Generous waits: on a loaded 2-core runner the child processes start slowly.
    await waitFor(
      `${name} Connected`,
      async () => {
        const res = await managerCli(['agents', 'list', '--data', manager.dataDir]);
        return new RegExp(`${name}\\s+\\S+\\s+Connected`).test(res.stdout);
      },
      120_000,
    );
    return baseDir;
  }

  it(
    'registers, connects and reports results through PAC + basic and through NTLM',
    { timeout: 400_000 },
    async () => {
      const pacUrl = `http://127.0.0.1:${(pac.address() as AddressInfo).port}/proxy.pac`;
      const [pacAgent, ntlmAgent] = await Promise.all([
        registerAndRun('via-pac', { pacUrl, user: 'agent' }, BASIC_PASSWORD),
        registerAndRun(
          'via-ntlm',
          { host: '127.0.0.1', port: ntlm.port, domain: 'CORP', user: 'agent' },
          NTLM_PASSWORD,
        ),
      ]);

      for (const name of ['via-pac', 'via-ntlm']) {
        const add = await managerCli([
          'discovery',
          'add',
          '--data',
          manager.dataDir,
          '--agent',
          name,
          '--targets',
          '127.0.0.1',
          '--ports',
          String(manager.port),
        ]);
        expect(add.exitCode, add.stderr).toBe(0);
      }
      await waitFor(
        'both discovery tasks done',
        async () => {
          const res = await managerMain(['tasks', 'list', '--data', manager.dataDir, '--json']);
          const tasks = JSON.parse(res.stdout) as Array<{ state: string }>;
          return tasks.length === 2 && tasks.every((t) => t.state === 'done');
        },
        120_000,
      );

      const managerConnect = new RegExp(
        `TCP_TUNNEL/200 .* CONNECT 127\\.0\\.0\\.1:${manager.port} agent `,
      );
      expect(basic.accessLog()).toMatch(managerConnect);
      expect(ntlm.accessLog()).toMatch(
        new RegExp(`TCP_TUNNEL/200 .* CONNECT 127\\.0\\.0\\.1:${manager.port} CORP`),
      );

      const status = await agentCli(pacAgent, ['status']);
      expect(status.stdout).toMatch(/connected to/);
      for (const [dir, secret] of [
        [pacAgent, BASIC_PASSWORD],
        [ntlmAgent, NTLM_PASSWORD],
      ] as const) {
        const shown = await agentCli(dir, ['status', '--json']);
        expect(shown.stdout).not.toContain(secret);
        const logs = path.join(dir, 'logs');
        const logText = fs.existsSync(logs)
          ? fs
              .readdirSync(logs)
              .map((f) => fs.readFileSync(path.join(logs, f), 'utf8'))
              .join('\n')
          : '';
        expect(logText).not.toContain(secret);
      }
    },
  );
});
