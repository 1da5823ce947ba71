import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import crypto, { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** The manager's own CA: it signs the server certificate and every agent's client certificate. */
export interface CertificateAuthority {
  certPem: string;
  cert: x509.X509Certificate;
  key: CryptoKey;
}

/** A certificate and its private key, both PEM, ready for tls.createServer. */
export interface IssuedPair {
  certPem: string;
  keyPem: string;
}

/** Thrown for a CSR that cannot be parsed or whose signature does not verify. */
export class BadCsrError extends Error {}

/**
 * Loads DIR/ca.pem and DIR/ca-key.pem, creating them on first use. The key file is 0600:
 * whoever reads it can mint agent identities.
 */
export async function loadOrCreateCa(dataDir: string): Promise<CertificateAuthority> {
  const certFile = path.join(dataDir, 'ca.pem');
  const keyFile = path.join(dataDir, 'ca-key.pem');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    const certPem = fs.readFileSync(certFile, 'utf8');
    return {
      certPem,
      cert: new x509.X509Certificate(certPem),
      key: await importKey(fs.readFileSync(keyFile, 'utf8')),
    };
  }

  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=certagent manager CA ${os.hostname()}`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 10 * 365 * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(keyFile, await exportKey(keys.privateKey), { mode: 0o600 });
  fs.writeFileSync(certFile, cert.toString('pem'), { mode: 0o644 });
  return { certPem: cert.toString('pem'), cert, key: keys.privateKey };
}

/** A server certificate for the listen host plus localhost, 127.0.0.1 and ::1. */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  listenHost: string,
): Promise<IssuedPair> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const names = new Set(['localhost', os.hostname(), listenHost]);
  const ips = new Set(['127.0.0.1', '::1']);
  for (const n of [...names]) if (net.isIP(n)) (names.delete(n), ips.add(n));
  names.delete('0.0.0.0');
  ips.delete('0.0.0.0');
  ips.delete('::');

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${net.isIP(listenHost) ? 'localhost' : listenHost}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 365 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...[...names].map((value) => ({ type: 'dns' as const, value })),
        ...[...ips].map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKey(keys.privateKey) };
}

/**
 * Signs an agent's CSR after checking its self-signature. The subject is set by the
 * manager (the agent id), never taken from the request.
 */
export async function signAgentCsr(
  ca: CertificateAuthority,
  csrPem: string,
  agentId: string,
): Promise<string> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new BadCsrError(
      `the certificate request is not a PEM PKCS#10 request: ${(err as Error).message}`,
    );
  }
  if (!(await csr.verify()))
    throw new BadCsrError('the certificate request signature does not verify');

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${agentId}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 2 * 365 * DAY_MS),
    publicKey: csr.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return cert.toString('pem');
}

/** SHA-256 of a PEM certificate's DER, lower-case hex: how the manager recognises an agent. */
export function certificateSha256(pem: string): string {
  return new crypto.X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();
}

function randomSerial(): string {
  const bytes = crypto.randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = crypto.createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return crypto
    .createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' }) as string;
}
