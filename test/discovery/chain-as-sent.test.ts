import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EndpointResult } from '../../agent/discovery/endpoint.ts';
import { makeChain, opensslFingerprint, type TestChain } from '../support/certs.ts';
import { describeWithTools } from '../support/tools.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/certagent.mjs');

// What a plain tls.connect reports: Node completes the chain from its trust store.
const DEFAULT_CLIENT =
  `
const tls = require('node:tls');
const s = tls.connect({ host: '127.0.0.1', port: Number(process.argv[1]), rejectUnauthorized: ` +
  `false });
s.on('secureConnect', () => {
  const names = [];
  const seen = new Set();
  for (let c = s.getPeerCertificate(true); c && !seen.has(c.fingerprint256); c = ` +
  `c.issuerCertificate) {
    seen.add(c.fingerprint256);
    names.push(c.subject.CN);
  }
  console.log(JSON.stringify(names));
  s.destroy();
});`;

describeWithTools('chains are recorded as the server sent them', ['openssl'], () => {
  let dir: string;
  let chain: TestChain;
  let server: tls.Server;
  let port: number;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certagent-chain-'));
    chain = await makeChain(dir, { cn: 'sent.test' });
    server = tls.createServer({
      cert: await fs.readFile(chain.fullchainPath),
      key: await fs.readFile(chain.leaf.keyPath),
    });
    server.on('secureConnection', (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    // The agent host trusts the root: it must still not appear, because it was not sent.
    env = { ...process.env, NODE_EXTRA_CA_CERTS: chain.root.certPath };
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await fs.rm(dir, { recursive: true, force: true });
  });

  it(
    'a default Node client would add the ' + 'trusted root (the trap this guards against)',
    async () => {
      const res = await execa(process.execPath, ['-e', DEFAULT_CLIENT, String(port)], { env });
      expect(JSON.parse(res.stdout)).toEqual([
        'sent.test',
        'sent.test Test Intermediate',
        'sent.test Test Root',
      ]);
    },
  );

  it('certagent discover reports only the leaf and intermediate the server sent', async () => {
    const res = await execa(BIN, ['discover', '127.0.0.1', '-p', String(port), '--json'], { env });
    const result = JSON.parse(res.stdout) as EndpointResult;
    expect(result.chain.map((c) => c.sha256)).toEqual([
      await opensslFingerprint(chain.leaf.certPath),
      await opensslFingerprint(chain.intermediate.certPath),
    ]);
  });
});
