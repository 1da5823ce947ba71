import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyRequest } from '../../agent/installers/key-request.ts';
import {
  loadOrCreateCa,
  type CertificateAuthority,
} from '../../manager/ca/certificate-authority.ts';
import { signServerCsr } from '../../manager/nodes/server-certificate.ts';

describe("the manager CA signing a web server's CSR", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-server-csr-'));
  let ca: CertificateAuthority;

  beforeAll(async () => {
    ca = await loadOrCreateCa(dir);
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('issues a serverAuth certificate for the requested names, chained to the CA', async () => {
    const subject = {
      commonName: 'shop.example.com',
      altNames: ['www.shop.example.com', '10.0.0.5'],
    };
    const { csrPem } = await createKeyRequest(subject);
    const cert = new X509Certificate(await signServerCsr(ca, csrPem, subject, 90));
    expect(cert.subject).toBe('CN=shop.example.com');
    expect(cert.subjectAltName).toBe(
      'DNS:shop.example.com, DNS:www.shop.example.com, IP Address:10.0.0.5',
    );
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(90);
  });

  it('refuses a request naming hosts the installation did not ask for', async () => {
    const { csrPem } = await createKeyRequest({
      commonName: 'shop.example.com',
      altNames: ['bank.example.org'],
    });
    await expect(
      signServerCsr(ca, csrPem, { commonName: 'shop.example.com', altNames: [] }, 90),
    ).rejects.toThrow(/names bank\.example\.org, which the installation did not ask for/);
  });

  it('refuses a request whose signature does not verify, and garbage', async () => {
    const { csrPem } = await createKeyRequest({ commonName: 'a.test', altNames: [] });
    const body = csrPem.split('\n').slice(1, -2).join('');
    const der = Buffer.from(body, 'base64');
    der[der.length - 5]! ^= 0xff;
    const tampered =
      `-----BEGIN CERTIFICATE ` +
      `REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(signServerCsr(ca, tampered, null, 90)).rejects.toThrow(/does not verify/);
    await expect(signServerCsr(ca, 'not a csr', null, 90)).rejects.toThrow(
      /not a PEM PKCS#10 request/,
    );
  });
});
