import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addRunCommand } from '../../agent/cli/commands/run.ts';
import { createContext } from '../../agent/cli/context.ts';
import { main } from '../../agent/cli/main.ts';
import { loadAgentConfig } from '../../agent/config/agent-config.ts';
import {
  applyInstallProperties,
  type InstallRegistry,
} from '../../agent/platform/windows-install.ts';
import { registerAgent } from '../../agent/registration/register-agent.ts';
import { makeCert, type TestCert } from '../support/certs.ts';
import {
  addAgent,
  AGENT_BIN,
  agentCli,
  managerMain,
  startManager,
  tempDir,
  waitFor,
  type ManagerProcess,
} from '../support/manager.ts';
import { describeWithTools } from '../support/tools.ts';

// Trust after registration is pinned (SSL_CERT_FILE no longer counts), `register` takes
// the configured server when --server is left out, and `run` applies what the MSI left
// before it checks the registration.

async function agentMain(baseDir: string, args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(['--base-dir', baseDir, ...args], {
    programName: 'certagent',
    io: { stdout, stderr },
  });
  return { code, out, err };
}

function writeConfig(baseDir: string, config: object) {
  fs.mkdirSync(path.join(baseDir, 'conf'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(baseDir, 'conf', 'agent.json'), JSON.stringify(config));
}

/** `certagent run` in a child process with `env` added to this process's environment. */
function runAgent(baseDir: string, env: Record<string, string>): ResultPromise {
  return execa('node', [AGENT_BIN, '--base-dir', baseDir, 'run'], {
    reject: false,
    stdin: 'ignore',
    env,
  });
}

describeWithTools('manager trust, --server default, MSI first start', ['openssl'], () => {
  let manager: ManagerProcess;
  let dir: string;
  /** A CA that has nothing to do with the manager, standing in for an image's bundle. */
  let unrelated: TestCert;
  let impostorCert: TestCert;
  const running: ResultPromise[] = [];
  const bases: string[] = [];
  const scratch = (prefix: string) => {
    const d = tempDir(prefix);
    bases.push(d);
    return d;
  };

  const status = async (name: string) => {
    const res = await managerMain(['agents', 'list', '--data', manager.dataDir, '--json']);
    const rows = JSON.parse(res.stdout) as Array<{ name: string; status: string }>;
    return rows.find((r) => r.name === name)?.status;
  };
  /** The service's own view through its control socket (registration alone shows Connected). */
  const service = async (base: string) => {
    const res = await agentMain(base, ['status', '--json']);
    return (JSON.parse(res.out) as { service: { connected?: boolean; lastError?: string } })
      .service;
  };
  const serviceConnected = (base: string) =>
    waitFor(`run connected in ${base}`, async () => (await service(base)).connected === true);

  beforeAll(async () => {
    dir = tempDir('trust');
    manager = await startManager({ heartbeatMs: 300 });
    unrelated = await makeCert(dir, { cn: 'Unrelated Root', ca: true });
    impostorCert = await makeCert(dir, { cn: 'impostor', sans: ['IP:127.0.0.1'] }, unrelated);
  });

  afterEach(async () => {
    for (const p of running.splice(0)) {
      p.kill('SIGTERM');
      await p;
    }
  });

  afterAll(async () => {
    await manager?.stop();
    if (manager) fs.rmSync(manager.dataDir, { recursive: true, force: true });
    for (const d of [dir, ...bases]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  describe('after registration the manager CA is pinned', () => {
    it('registered with --ca, runs with SSL_CERT_FILE naming an unrelated CA', async () => {
      const { token } = await addAgent(manager.dataDir, 'pin-ca-flag');
      const base = scratch('pin-ca-flag');
      const reg = await agentCli(
        base,
        ['register', '--server', manager.url, '--ca', manager.caPath],
        {
          CERTAGENT_TOKEN: token,
        },
      );
      expect(reg.exitCode, reg.stderr).toBe(0);

      running.push(runAgent(base, { SSL_CERT_FILE: unrelated.certPath }));
      await serviceConnected(base);
    });

    it(
      'registered through SSL_CERT_FILE, runs ' + 'when the variable names another file or none',
      async () => {
        const { token } = await addAgent(manager.dataDir, 'pin-env');
        const base = scratch('pin-env');
        const reg = await agentCli(base, ['register', '--server', manager.url], {
          CERTAGENT_TOKEN: token,
          SSL_CERT_FILE: manager.caPath,
        });
        expect(reg.exitCode, reg.stderr).toBe(0);

        // What the container image does: the variable always names the image's bundle.
        running.push(runAgent(base, { SSL_CERT_FILE: unrelated.certPath }));
        await serviceConnected(base);
        for (const p of running.splice(0)) {
          p.kill('SIGTERM');
          await p;
        }

        running.push(runAgent(base, { SSL_CERT_FILE: path.join(dir, 'no-such-bundle.pem') }));
        await serviceConnected(base);
      },
    );

    it('refuses a server whose certificate only SSL_CERT_FILE would vouch for', async () => {
      const { token } = await addAgent(manager.dataDir, 'pin-impostor');
      const base = scratch('pin-impostor');
      const reg = await agentCli(base, ['register', '--server', manager.url], {
        CERTAGENT_TOKEN: token,
        SSL_CERT_FILE: manager.caPath,
      });
      expect(reg.exitCode, reg.stderr).toBe(0);

      // An impostor at another address, certified by the CA the environment now names.
      let requests = 0;
      let rejected!: () => void;
      let accepted!: (err: Error) => void;
      const handshakeRefused = new Promise<void>((resolve, reject) => {
        rejected = resolve;
        accepted = reject;
      });
      const impostor = https.createServer(
        { cert: impostorCert.pem, key: fs.readFileSync(impostorCert.keyPath) },
        (_req, res) => {
          requests += 1;
          accepted(new Error('the agent trusted the impostor and sent it a request'));
          res.writeHead(500).end();
        },
      );
      impostor.on('tlsClientError', () => rejected());
      await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
      try {
        const { port } = impostor.address() as { port: number };
        const config = loadAgentConfig(path.join(base, 'conf', 'agent.json'));
        writeConfig(base, { ...config, server: `https://127.0.0.1:${port}` });

        running.push(runAgent(base, { SSL_CERT_FILE: unrelated.certPath }));
        await handshakeRefused;
        const refused = await waitFor('the refusal in status', async () => {
          const s = await service(base);
          return s.lastError ? s : undefined;
        });
        expect(refused.connected).toBe(false);
        expect(refused.lastError).toMatch(/certificate|issuer/i);
        expect(requests).toBe(0);
      } finally {
        impostor.closeAllConnections();
        impostor.close();
      }
    });
  });

  describe('register without --server', () => {
    it('uses the server in conf/agent.json', async () => {
      const { token } = await addAgent(manager.dataDir, 'configured-server');
      const base = scratch('configured-server');
      writeConfig(base, { server: manager.url, autoUpdate: false, proxy: {} });
      const res = await agentMain(base, ['register', '--token', token, '--ca', manager.caPath]);
      expect(res.code, res.err).toBe(0);
      expect(res.out).toContain(`with ${manager.url}`);
      expect(await status('configured-server')).not.toBe('Pending');
      expect(fs.existsSync(path.join(base, 'conf', 'agent.pem'))).toBe(true);
    });

    it('exits 2 and asks for --server when none is configured', async () => {
      const base = scratch('no-server');
      const res = await agentMain(base, ['register', '--token', 'unused-token']);
      expect(res.code).toBe(2);
      expect(res.err).toMatch(/no management server given.*pass --server https:\/\//);
      expect(res.err).not.toContain('unused-token');
      expect(fs.existsSync(path.join(base, 'conf', 'agent.pem'))).toBe(false);
    });

    it('refuses a configured server that is not https, as --server would be', async () => {
      const base = scratch('http-server');
      writeConfig(base, { server: 'http://127.0.0.1:1', autoUpdate: false, proxy: {} });
      const res = await agentMain(base, ['register', '--token', 'unused-token']);
      expect(res.code).toBe(2);
      expect(res.err).toMatch(/must be an https:\/\/ URL/);
    });
  });

  describe('run applies the installer values before its registration check', () => {
    /** The install key as a map (the real reg.exe is covered by the Wine suite). */
    function memoryRegistry(values: Record<string, string>) {
      const current = { ...values };
      const registry: InstallRegistry = {
        read: async () => ({ ...current }),
        delete: async (names) => {
          for (const n of names) delete current[n];
        },
      };
      return { registry, current };
    }

    function runCommand(base: string, handoff: Parameters<typeof addRunCommand>[2]) {
      const program = new Command('certagent').exitOverride();
      const ctx = createContext('certagent', () => base, {
        stdout: new PassThrough(),
        stderr: new PassThrough(),
      });
      addRunCommand(program, ctx, handoff);
      return program.parseAsync(['run'], { from: 'user' });
    }

    it('says registration with the installer token failed when it did', async () => {
      const base = scratch('msi-failed');
      const seen: string[] = [];
      await expect(
        runCommand(base, async (files) => {
          seen.push(files.config);
          return 'registration-failed';
        }),
      ).rejects.toMatchObject({
        code: 'not-registered',
        message: expect.stringMatching(/registration with the installer's token failed/),
      });
      expect(seen).toEqual([path.join(base, 'conf', 'agent.json')]);
    });

    it('registers with the MSI token and server, removes the token and connects', async () => {
      const { token } = await addAgent(manager.dataDir, 'msi-first-start');
      const base = scratch('msi-first-start');
      const reg = memoryRegistry({
        Token: token,
        ServerUrl: manager.url,
        AutoUpdate: '',
        UseProxy: '',
        ProxyHost: '',
        ProxyPort: '',
      });
      // The Windows service passes no --ca: the registration trusts what the machine does.
      const before = process.listeners('SIGTERM');
      process.env.SSL_CERT_FILE = manager.caPath;
      let run: Promise<unknown>;
      try {
        run = runCommand(base, (files, log) =>
          applyInstallProperties({
            registry: reg.registry,
            files,
            log,
            register: async (t, server) =>
              void (await registerAgent(files, { token: t, server }, log)),
          }),
        );
        await serviceConnected(base);
        expect(await status('msi-first-start')).toBe('Connected');
      } finally {
        delete process.env.SSL_CERT_FILE;
      }

      expect(reg.current).toEqual({});
      const config = loadAgentConfig(path.join(base, 'conf', 'agent.json'));
      expect(config).toMatchObject({ server: manager.url, autoUpdate: false });
      const logs = fs.readdirSync(path.join(base, 'logs'));
      for (const f of logs)
        expect(fs.readFileSync(path.join(base, 'logs', f), 'utf8')).not.toContain(token);

      // Stop only the service started here, through its own SIGTERM listener.
      const added = process.listeners('SIGTERM').filter((l) => !before.includes(l));
      expect(added).toHaveLength(1);
      added[0]!('SIGTERM');
      await run;
    });
  });
});
