import 'reflect-metadata';
import crypto, { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CertificateAuthority } from '../ca/certificate-authority.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** Thrown for a CSR the CA will not sign; the message says why. */
export class RefusedCsrError extends Error {}

/**
 * Signs a web server's CSR with the manager's CA: serverAuth, the subject and DNS/IP names
 * the operator asked for (never more than that), `days` of validity. The request must be
 * self-signed by its key, so nobody can get a certificate for a key they do not hold.
 */
export async function signServerCsr(
  ca: CertificateAuthority,
  csrPem: string,
  expected: { commonName: string; altNames: string[] } | null,
  days: number,
): Promise<string> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new RefusedCsrError(`not a PEM PKCS#10 request: ${(err as Error).message}`);
  }
  if (!(await csr.verify())) throw new RefusedCsrError('the request signature does not verify');

  const names = requestedNames(csr);
  const allowed = expected ? new Set([expected.commonName, ...expected.altNames]) : null;
  const extra = allowed ? names.filter((n) => !allowed.has(n.value)) : [];
  if (extra.length) {
    throw new RefusedCsrError(
      `the request names ${extra.map((n) => n.value).join(', ')}, ` +
        `which the installation did not ask for`,
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: crypto
      .randomBytes(16)
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    subject: csr.subject,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + days * DAY_MS),
    publicKey: csr.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return cert.toString('pem');
}

function requestedNames(csr: x509.Pkcs10CertificateRequest): x509.JsonGeneralName[] {
  const san = csr.extensions.find((e) => e.type === '2.5.29.17');
  const parsed = san ? new x509.SubjectAlternativeNameExtension(san.rawData) : undefined;
  const fromSan = parsed
    ? parsed.names.toJSON().filter((n: x509.JsonGeneralName) => n.type === 'dns' || n.type === 'ip')
    : [];
  const cn = /CN=([^,+]+)/.exec(csr.subject)?.[1];
  const all =
    cn && !fromSan.some((n: x509.JsonGeneralName) => n.value === cn)
      ? [{ type: 'dns' as const, value: cn }, ...fromSan]
      : fromSan;
  return all;
}
