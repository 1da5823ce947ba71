import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataDir } from '../../manager/cli/data-dir.ts';
import { storeEndpoint } from '../../manager/store/certificates.ts';
import { addAgent, managerMain, tempDir } from '../support/manager.ts';

const dataDir = tempDir('certs-list');
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const CERT = {
  subject: 'CN=v6.test',
  issuer: 'CN=v6.test',
  serial: '01',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2027-01-01T00:00:00.000Z',
  sans: ['v6.test'],
  keyType: 'ec',
  keyBits: 256,
  signatureAlgorithm: 'ecdsa-with-SHA256',
  sha256: 'ab'.repeat(32),
  pem: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n',
};

function seenAt(host: string, port: number, agentId: string): void {
  const db = openDataDir(dataDir);
  try {
    storeEndpoint(db, agentId, {
      host,
      address: host,
      port,
      sni: null,
      tlsVersion: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      chain: [CERT],
      scannedAt: new Date().toISOString(),
    });
  } finally {
    db.close();
  }
}

describe('certagent-manager certs list', () => {
  it('brackets IPv6 endpoints and leaves IPv4 and names as they are', async () => {
    const { id } = await addAgent(dataDir, 'v6-agent');
    seenAt('::1', 24434, id);
    seenAt('127.0.0.1', 443, id);

    const res = await managerMain(['certs', 'list', '--data', dataDir]);

    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain('[::1]:24434');
    expect(res.stdout).toContain('127.0.0.1:443');
    expect(res.stdout).not.toMatch(/(^|\s)::1:24434/);
  });
});
