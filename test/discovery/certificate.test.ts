import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeCertificate, splitSubjectAltName } from '../../agent/discovery/certificate.ts';
import {
  signatureAlgorithmOf,
  signatureAlgorithmOid,
} from '../../agent/discovery/signature-algorithm.ts';
import {
  makeCert,
  opensslFingerprint,
  opensslSignatureAlgorithm,
  type CertOptions,
} from '../support/certs.ts';
import { describeWithTools } from '../support/tools.ts';

let dir: string;

function derOf(pem: string): Buffer {
  return Buffer.from(new crypto.X509Certificate(pem).raw);
}

describeWithTools('certificate records', ['openssl'], () => {
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certagent-certs-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, Omit<CertOptions, 'cn'>, string, number]> = [
    ['RSA-2048 SHA-256', { key: { type: 'rsa', bits: 2048 } }, 'rsa', 2048],
    ['RSA-1024 SHA-1', { key: { type: 'rsa', bits: 1024 }, digest: 'sha1' }, 'rsa', 1024],
    ['RSA-3072 SHA-384', { key: { type: 'rsa', bits: 3072 }, digest: 'sha384' }, 'rsa', 3072],
    ['ECDSA P-256', { key: { type: 'ec', curve: 'P-256' } }, 'ec', 256],
    ['ECDSA P-384 SHA-384', { key: { type: 'ec', curve: 'P-384' }, digest: 'sha384' }, 'ec', 384],
    ['ECDSA P-521', { key: { type: 'ec', curve: 'P-521' } }, 'ec', 521],
    ['Ed25519', { key: { type: 'ed25519' } }, 'ed25519', 256],
  ];
  it.each(cases)(
    'describes a self-signed %s as openssl does',
    async (title, options, type, bits) => {
      const cert = await makeCert(dir, { cn: title, sans: ['a.test', '10.0.0.1'], ...options });
      const record = describeCertificate(derOf(cert.pem));
      expect(record.signatureAlgorithm).toBe(await opensslSignatureAlgorithm(cert.certPath));
      expect(record.sha256).toBe(await opensslFingerprint(cert.certPath));
      expect(record).toMatchObject({ keyType: type, keyBits: bits, subject: `CN=${title}` });
      expect(record.sans).toEqual(['DNS:a.test', 'IP Address:10.0.0.1']);
      expect(record.serial).toMatch(/^[0-9A-F]+$/);
    },
  );

  it('splits SANs of several kinds, keeping their type prefixes', () => {
    expect(
      splitSubjectAltName('DNS:a.test, IP Address:10.0.0.1, email:x@y.test, URI:https://a/'),
    ).toEqual(['DNS:a.test', 'IP Address:10.0.0.1', 'email:x@y.test', 'URI:https://a/']);
    expect(splitSubjectAltName(undefined)).toEqual([]);
  });

  it('rejects DER that is truncated, mistagged or lies about its length', async () => {
    const cert = await makeCert(dir, { cn: 'tamper.test' });
    const der = derOf(cert.pem);
    expect(signatureAlgorithmOid(der)).toBe('1.2.840.113549.1.1.11');

    const truncated = der.subarray(0, der.length - 300);
    expect(() => signatureAlgorithmOf(truncated)).toThrow(/runs past the end/);
    expect(() => signatureAlgorithmOf(Buffer.from([0x31, 0x00]))).toThrow(/expected tag 0x30/);
    expect(() => signatureAlgorithmOf(Buffer.from([0x30, 0x85, 1, 2, 3, 4, 5]))).toThrow(
      /bad length/,
    );
    expect(() => signatureAlgorithmOf(Buffer.alloc(0))).toThrow(/expected tag/);
  });

  it('names an unknown algorithm by its OID', () => {
    // SEQUENCE { SEQUENCE {} , SEQUENCE { OID 1.2.3.4 } }
    const der = Buffer.from([0x30, 0x09, 0x30, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2a, 0x03, 0x04]);
    expect(signatureAlgorithmOf(der)).toBe('1.2.3.4');
  });
});
