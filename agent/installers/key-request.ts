import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** What the certificate should name. */
export interface CertificateSubject {
  commonName: string;
  /** DNS names (and IP addresses) for the subjectAltName extension. */
  altNames: string[];
}

/**
 * A fresh private key (PKCS#8 PEM) and the CSR signed with it. The key never leaves the agent
 * or node.
 */
export interface KeyRequest {
  keyPem: string;
  csrPem: string;
}

const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

function altNameEntries(names: string[]): x509.JsonGeneralName[] {
  return names.map((n) =>
    /^[\d.]+$|:/.test(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n },
  );
}

/** Generates an RSA-2048 key pair and a PKCS#10 request for the subject. */
export async function createKeyRequest(subject: CertificateSubject): Promise<KeyRequest> {
  const crypto = webcrypto as unknown as Crypto;
  const keys = (await crypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names = [...new Set([subject.commonName, ...subject.altNames])];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: [{ CN: [subject.commonName] }],
      keys,
      signingAlgorithm: RSA,
      extensions: [new x509.SubjectAlternativeNameExtension(altNameEntries(names))],
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  return { keyPem: `${keyPem.trim()}\n`, csrPem: `${csr.toString('pem').trim()}\n` };
}
