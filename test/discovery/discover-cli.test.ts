import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EndpointResult } from '../../agent/discovery/endpoint.ts';
import { makeCert, opensslFingerprint, type TestCert } from '../support/certs.ts';
import { freePort } from '../support/nginx.ts';
import { describeWithTools } from '../support/tools.ts';
import { runAgentMain } from '../support/agent-main.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/certagent.mjs');

const run = runAgentMain;

describeWithTools('certagent discover', ['openssl'], () => {
  let dir: string;
  let cert: TestCert;
  let server: tls.Server;
  let tlsPort: number;
  let closedPort: number;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certagent-discover-cli-'));
    cert = await makeCert(dir, { cn: 'cli.test', key: { type: 'ec' } });
    server = tls.createServer({ cert: cert.pem, key: await fs.readFile(cert.keyPath) });
    server.on('secureConnection', (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    tlsPort = (server.address() as { port: number }).port;
    closedPort = await freePort();
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('prints one JSON object per endpoint per line with --json', async () => {
    const res = await run([
      'discover',
      '127.0.0.1',
      '--ports',
      `${tlsPort},${closedPort}`,
      '--json',
    ]);
    expect(res.code).toBe(0);
    const lines = res.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    const results = lines.map((l) => JSON.parse(l) as EndpointResult);
    const ok = results.find((r) => r.port === tlsPort)!;
    expect(ok.chain[0]!.sha256).toBe(await opensslFingerprint(cert.certPath));
    expect(ok.chain[0]!.pem).toContain('BEGIN CERTIFICATE');
    const closed = results.find((r) => r.port === closedPort)!;
    expect(closed.error).toMatchObject({ code: 'refused' });
    expect(res.err).toBe('');
  });

  it('prints a table with a header, a row per endpoint and a summary on stderr', async () => {
    const res = await run(['discover', '127.0.0.1', '-p', `${tlsPort},${closedPort}`]);
    expect(res.code).toBe(0);
    const [header, ...rows] = res.out.trim().split('\n');
    expect(header).toMatch(/^ENDPOINT\s+TLS\s+NOT AFTER\s+SHA-256\s+SUBJECT/);
    const fingerprint = await opensslFingerprint(cert.certPath);
    expect(rows.find((r) => r.startsWith(`127.0.0.1:${tlsPort} `))).toContain(
      fingerprint.slice(0, 16),
    );
    expect(rows.find((r) => r.startsWith(`127.0.0.1:${closedPort} `))).toMatch(/refused/);
    expect(res.err).toMatch(/2 endpoints, 1 with certificates, 1 without/);
  });

  it('shows progress on stderr with --progress', async () => {
    const res = await run(['discover', '127.0.0.1', '-p', String(tlsPort), '--progress', '--json']);
    expect(res.code).toBe(0);
    expect(res.out.trim().split('\n')).toHaveLength(1);
    expect(res.err).toContain('\rscanned 1 endpoints, 1 with certificates');
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['a bad target', ['discover', '300.1.1.1', '-p', '443'], /bad target '300.1.1.1'/],
    ['a bad CIDR', ['discover', '10.0.0.0/40', '-p', '443'], /prefix of 0-32/],
    ['a bad port', ['discover', '127.0.0.1', '-p', '0'], /ports are 1-65535/],
    ['a bad port range', ['discover', '127.0.0.1', '-p', '9-1'], /first port is after/],
    ['no ports', ['discover', '127.0.0.1'], /required option '-p, --ports/],
    ['no targets', ['discover', '-p', '443'], /missing required argument/],
    [
      'a bad concurrency',
      ['discover', '127.0.0.1', '-p', '1', '--concurrency', '0'],
      /concurrency/,
    ],
    ['a bad timeout', ['discover', '127.0.0.1', '-p', '1', '--timeout', '5s'], /--timeout '5s'/],
    ['an address as SNI', ['discover', '127.0.0.1', '-p', '1', '--sni', '10.0.0.1'], /bad SNI/],
  ];
  it.each(bad)('exits 2 on %s with a one-line message', async (_title, argv, message) => {
    const res = await run(argv);
    expect(res.code).toBe(2);
    expect(res.err).toMatch(message);
    expect(res.err).not.toMatch(/\n\s+at /);
    expect(res.out).toBe('');
  });

  it('exits 2 from the real executable, without a stack trace', async () => {
    const res = await execa(BIN, ['discover', '10.0.0.1-10.0.0.0', '-p', '443'], { reject: false });
    expect(res.exitCode).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/^certagent: bad address range '10.0.0.1-10.0.0.0'/);
  });

  it('answers --help with exit 0 and documents every option', async () => {
    const res = await run(['discover', '--help']);
    expect(res.code).toBe(0);
    for (const option of [
      '--ports',
      '--sni',
      '--json',
      '--concurrency',
      '--timeout',
      '--progress',
    ]) {
      expect(res.out).toContain(option);
    }
  });
});
