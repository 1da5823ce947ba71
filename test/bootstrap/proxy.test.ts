import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runBootstrap } from '../../bootstrap/install.ts';
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  type ReleaseKey,
} from '../support/dist-host.ts';
import { startSquid, type Squid } from '../support/squid.ts';
import { describeWithTools } from '../support/tools.ts';

const USER = 'setup-user';
const PASSWORD = 'pr0xy "pass" word';

describeWithTools('bootstrap through an authenticating squid', ['squid', 'htpasswd'], () => {
  const msi = randomBytes(50_000);
  let dir: string;
  let host: DistHost;
  let key: ReleaseKey;
  let squid: Squid;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-bootstrap-proxy-'));
    key = await createReleaseKey();
    host = await new DistHost().start();
    squid = await startSquid({ basicUsers: { [USER]: PASSWORD } });
    await publishSigned(host, key, 'windows/manifest.json', {
      schema: 1,
      product: 'certagent',
      sequence: 1,
      issued: new Date().toISOString(),
      expires: new Date(Date.now() + 3_600_000).toISOString(),
      version: '2.0.0',
      files: [
        {
          kind: 'msi',
          arch: 'x64',
          file: 'certagent-2.0.0-x64.msi',
          size: msi.length,
          sha256: createHash('sha256').update(msi).digest('hex'),
        },
      ],
    });
    host.set('windows/certagent-2.0.0-x64.msi', msi);
  });

  afterAll(async () => {
    await squid?.stop();
    await host?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function run(password: string) {
    let out = '';
    const calls: string[][] = [];
    const code = await runBootstrap(
      [
        '/i',
        '/q',
        'PROPERTY_TOKEN=install-token-123',
        'PROPERTY_USE_PROXY=1',
        'PROPERTY_PROXY_HOST=127.0.0.1',
        `PROPERTY_PROXY_PORT=${squid.port}`,
        `PROPERTY_PROXY_USER=${USER}`,
        `PROPERTY_PROXY_PASSWORD=${password}`,
      ],
      {
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (out += s) },
        runner: async (_exe, args) => (calls.push(args), 0),
        trustedKeys: [key.publicKeyArmored],
        defaultSource: host.origin,
        stateDir: fs.mkdtempSync(path.join(dir, 'state-')),
        downloadDir: fs.mkdtempSync(path.join(dir, 'dl-')),
        arch: 'x64',
        env: {},
        deadlineMs: 20_000,
      },
    );
    return { code, out, calls };
  }

  it('downloads manifest and MSI through the proxy with its credentials', async () => {
    host.requests.length = 0;
    const result = await run(PASSWORD);
    expect(result.out).not.toContain('pr0xy');
    expect(result.code).toBe(0);
    expect(result.calls).toHaveLength(1);

    expect(host.requests.map((r) => r.path)).toContain('/windows/certagent-2.0.0-x64.msi');
  });

  it('fails clearly, without leaking the password, when the proxy refuses it', async () => {
    host.requests.length = 0;
    const result = await run('wrong password');
    // Nothing went around the proxy: the host saw no request at all.
    expect(host.requests).toEqual([]);
    expect(result.code).toBe(1603);
    expect(result.calls).toHaveLength(0);
    expect(result.out).toMatch(/refused authentication with user "setup-user" .*HTTP 407/);
    expect(result.out).not.toContain('wrong password');
  });
});
