import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../agent/cli/main.ts';
import {
  addAgent,
  AGENT_BIN,
  startManager,
  tempDir,
  type ManagerProcess,
  registerArgs,
} from '../support/manager.ts';

// Agent configuration through its main(): config set/show, secrets sealed and masked,
// status without a service, and registration through the configured proxy.

async function agent(baseDir: string, args: string[], programName = 'certagent') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(['--base-dir', baseDir, ...args], {
    programName,
    io: { stdout, stderr },
  });
  return { code, out, err };
}

/** `certagent config set KEY` with the secret on stdin, as a script would give it. */
async function setSecret(baseDir: string, key: string, secret: string) {
  const res = await execa('node', [AGENT_BIN, '--base-dir', baseDir, 'config', 'set', key], {
    input: `${secret}\n`,
    reject: false,
  });
  expect(res.exitCode, res.stderr).toBe(0);
}

/** A CONNECT proxy with basic authentication that records what it tunnelled. */
async function startConnectProxy(user: string, password: string) {
  const tunnels: Array<{ target: string; auth: string | undefined }> = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client: net.Socket) => {
    const auth = req.headers['proxy-authorization'];
    tunnels.push({ target: req.url ?? '', auth });
    if (auth !== `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`) {
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: ' +
          'Basic\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client).pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    tunnels,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function newBase(): string {
  const d = tempDir('cfg');
  dirs.push(d);
  return d;
}

describe('certagent config', () => {
  it('seals the proxy password, masks it in show and status', async () => {
    const base = newBase();
    for (const [k, v] of [
      ['proxy.host', 'proxy.example.test'],
      ['proxy.port', '3128'],
      ['proxy.user', 'alice'],
      // auto-update on is refused for a source checkout (agent/updater); off is always valid.
      ['auto-update', 'off'],
    ]) {
      expect((await agent(base, ['config', 'set', k!, v!])).code).toBe(0);
    }
    await setSecret(base, 'proxy.password', 's3cret-Pa55');
    const stored = fs.readFileSync(path.join(base, 'conf', 'agent.json'), 'utf8');
    expect(stored).not.toContain('s3cret-Pa55');
    expect(JSON.parse(stored).proxy.password).toMatch(/^sealed:v1:/);
    expect(fs.statSync(path.join(base, 'conf', 'secret.key')).mode & 0o777).toBe(0o600);

    const shown = await agent(base, ['show'], 'certagent-config');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({
      autoUpdate: false,
      proxy: { host: 'proxy.example.test', port: 3128, user: 'alice', password: '********' },
    });

    const status = await agent(base, ['status']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/registration:\s+not registered/);
    expect(status.out).toMatch(/connection:\s+service not running/);
    expect(status.out).toMatch(/auto-update:\s+off/);
    expect(status.out).toMatch(/password=\*{8}/);
    expect(status.out + shown.out).not.toContain('s3cret-Pa55');
  });

  it.each([
    [['config', 'set', 'proxy.port', '99999'], /between 1 and 65535/],
    [['config', 'set', 'proxy.pac-url', 'file:///etc/passwd'], /http:\/\/ or https:\/\//],
    [['config', 'set', 'no.such.key', 'x'], /unknown configuration key "no.such.key"; valid keys:/],
    [['config', 'set', 'auto-update', 'maybe'], /true or false/],
    [
      ['config', 'set', 'proxy.password', 'on-the-line'],
      /secret.*not taken on the command line.*stdin/,
    ],
    [['config', 'set', 'proxy.host'], /needs a VALUE/],
    [['config', 'interactive'], /needs a terminal/],
    [['register', '--token', 'x', '--server', 'http://127.0.0.1:1'], /https:\/\//],
    [['register', '--server', 'https://127.0.0.1:1'], /--token is required/],
  ])('exits 2 on %j', async (args, message) => {
    const res = await agent(newBase(), args);
    expect(res.code).toBe(2);
    expect(res.err).toMatch(message);
  });

  it('takes an https server URL for register and refuses a plain http one', async () => {
    const dir = newBase();
    const bad = await agent(dir, ['config', 'set', 'server', 'http://manager.invalid:8443']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/https:\/\/HOST:PORT/);

    const good = await agent(dir, ['config', 'set', 'server', 'https://127.0.0.1:9']);
    expect(good.code).toBe(0);
    const shown = await agent(dir, ['config', 'show']);
    expect(JSON.parse(shown.out).server).toBe('https://127.0.0.1:9');
  });

  it('refuses to run before registration, and a corrupt agent.json, with exit 1', async () => {
    const base = newBase();
    const run = await agent(base, ['run']);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/not registered.*certagent register/);
    fs.mkdirSync(path.join(base, 'conf'));
    fs.writeFileSync(path.join(base, 'conf', 'agent.json'), '{ nope');
    const show = await agent(base, ['config', 'show']);
    expect(show.code).toBe(1);
    expect(show.err).toMatch(/not valid JSON/);
  });

  it('answers --help for register, run, status and config verbs', async () => {
    for (const verb of [
      ['register'],
      ['run'],
      ['status'],
      ['config', 'show'],
      ['config', 'set'],
      ['config', 'interactive'],
    ]) {
      const res = await agent(newBase(), [...verb, '--help']);
      expect(res.code, verb.join(' ')).toBe(0);
      expect(res.out).toMatch(/Usage:/);
    }
  });
});

describe('registration through the configured proxy', () => {
  let manager: ManagerProcess;
  let proxy: Awaited<ReturnType<typeof startConnectProxy>>;

  beforeAll(async () => {
    manager = await startManager();
    proxy = await startConnectProxy('alice', 'pr0xy-pw');
  });
  afterAll(async () => {
    await proxy?.close();
    await manager?.stop();
    if (manager) fs.rmSync(manager.dataDir, { recursive: true, force: true });
  });

  it(
    'tunnels to the manager with the unsealed ' + 'password, and fails clearly with a wrong one',
    async () => {
      const base = newBase();
      for (const [k, v] of [
        ['proxy.host', '127.0.0.1'],
        ['proxy.port', String(proxy.port)],
        ['proxy.user', 'alice'],
      ]) {
        await agent(base, ['config', 'set', k!, v!]);
      }
      await setSecret(base, 'proxy.password', 'wrong');
      const { token } = await addAgent(manager.dataDir, 'via-proxy');
      const refused = await agent(base, registerArgs(manager, token));
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/cannot reach the management server/);

      await setSecret(base, 'proxy.password', 'pr0xy-pw');
      const ok = await agent(base, registerArgs(manager, token));
      expect(ok.code, ok.err).toBe(0);
      expect(proxy.tunnels.at(-1)).toMatchObject({ target: `127.0.0.1:${manager.port}` });
    },
  );

  it('trusts SSL_CERT_FILE, and says what to do when the server CA is unknown', async () => {
    const { token } = await addAgent(manager.dataDir, 'via-env-ca');
    const base = newBase();
    const untrusted = await agent(base, ['register', '--token', token, '--server', manager.url]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.err).toMatch(/cannot reach the management server.*(--ca or SSL_CERT_FILE)/);

    process.env.SSL_CERT_FILE = manager.caPath;
    try {
      const ok = await agent(base, ['register', '--token', token, '--server', manager.url]);
      expect(ok.code, ok.err).toBe(0);
    } finally {
      delete process.env.SSL_CERT_FILE;
    }
    const missing = await agent(newBase(), [
      'register',
      '--token',
      'x',
      '--server',
      manager.url,
      '--ca',
      '/nonexistent.pem',
    ]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot use CA file \/nonexistent.pem/);
  });
});
