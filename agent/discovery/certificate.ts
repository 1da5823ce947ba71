import crypto from 'node:crypto';
import type { ChainCertificate } from './endpoint.ts';
import { signatureAlgorithmOf } from './signature-algorithm.ts';

/** The discovery record of one DER certificate. */
export function describeCertificate(der: Buffer): ChainCertificate {
  return describeX509(new crypto.X509Certificate(der));
}

/** The discovery record of a parsed certificate, e.g. one a TLS peer presented. */
export function describeX509(x509: crypto.X509Certificate): ChainCertificate {
  const der = x509.raw;
  const key = x509.publicKey;
  return {
    subject: oneLineName(x509.subject),
    issuer: oneLineName(x509.issuer),
    serial: x509.serialNumber.toUpperCase(),
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
    sans: splitSubjectAltName(x509.subjectAltName),
    keyType: key.asymmetricKeyType ?? 'unknown',
    keyBits: keyBitsOf(key),
    signatureAlgorithm: safeSignatureAlgorithm(der),
    sha256: crypto.createHash('sha256').update(der).digest('hex'),
    pem: x509.toString(),
  };
}

// X509Certificate prints one attribute per line; a record reads better on one.
function oneLineName(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

const SAN_TYPES = ['DNS', 'IP Address', 'email', 'URI', 'DirName', 'othername', 'Registered ID'];
const SAN_SPLIT = new RegExp(`, (?=(?:${SAN_TYPES.join('|')}):)`);

/** `DNS:a, IP Address:1.2.3.4` -> `['DNS:a', 'IP Address:1.2.3.4']`, type prefixes kept. */
export function splitSubjectAltName(value: string | undefined): string[] {
  if (!value) return [];
  return value.split(SAN_SPLIT).map((s) => s.trim());
}

const CURVE_BITS: Record<string, number> = {
  prime256v1: 256,
  secp256k1: 256,
  secp384r1: 384,
  secp521r1: 521,
  secp224r1: 224,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
};

const FIXED_KEY_BITS: Record<string, number> = { ed25519: 256, ed448: 456, x25519: 256, x448: 448 };

function keyBitsOf(key: crypto.KeyObject): number | null {
  const details = key.asymmetricKeyDetails;
  if (details?.modulusLength) return details.modulusLength;
  if (details?.namedCurve) return CURVE_BITS[details.namedCurve] ?? null;
  return FIXED_KEY_BITS[key.asymmetricKeyType ?? ''] ?? null;
}

// X509Certificate already accepted the DER, so this only fails on an encoding it
// tolerated and this reader does not (e.g. indefinite lengths); the record says so.
function safeSignatureAlgorithm(der: Buffer): string {
  try {
    return signatureAlgorithmOf(der);
  } catch {
    return 'unknown';
  }
}
