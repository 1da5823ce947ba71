import { X509Certificate } from 'node:crypto';

/** The certificates of a PEM bundle, in file order. */
export function pemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** SHA-256 of the first certificate's DER, lower-case hex, as discovery reports it. */
export function leafFingerprint(pem: string): string | null {
  const first = pemCertificates(pem)[0];
  if (!first) return null;
  return new X509Certificate(first).fingerprint256.replace(/:/g, '').toLowerCase();
}
