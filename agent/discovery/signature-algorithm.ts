/**
 * The signature algorithm of a DER certificate. Node 20's X509Certificate does not expose
 * it, so this reads just enough DER: Certificate ::= SEQUENCE { tbsCertificate SEQUENCE,
 * signatureAlgorithm SEQUENCE { algorithm OBJECT IDENTIFIER, ... }, ... }.
 * Names follow what `openssl x509 -text` prints; unknown algorithms come back as the OID.
 */
export function signatureAlgorithmOf(der: Uint8Array): string {
  const oid = signatureAlgorithmOid(der);
  return SIGNATURE_ALGORITHMS[oid] ?? oid;
}

const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.10040.4.3': 'dsaWithSHA1',
  '2.16.840.1.101.3.4.3.2': 'dsa_with_SHA256',
  '1.3.101.112': 'ED25519',
  '1.3.101.113': 'ED448',
};

/** The dotted OID of the outer signatureAlgorithm; throws on anything that is not DER. */
export function signatureAlgorithmOid(der: Uint8Array): string {
  const certificate = readElement(der, 0, 0x30);
  const tbs = readElement(der, certificate.contentStart, 0x30);
  const algorithm = readElement(der, tbs.end, 0x30);
  const oid = readElement(der, algorithm.contentStart, 0x06);
  return decodeOid(der.subarray(oid.contentStart, oid.end));
}

interface Element {
  contentStart: number;
  end: number;
}

// Reads the tag and length at `offset`; checks the tag and that the content fits.
function readElement(der: Uint8Array, offset: number, tag: number): Element {
  if (der[offset] !== tag) {
    throw new Error(`certificate DER: expected tag 0x${tag.toString(16)} at offset ${offset}`);
  }
  const first = der[offset + 1];
  if (first === undefined) throw new Error(`certificate DER: truncated at offset ${offset}`);
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4)
      throw new Error(`certificate DER: bad length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[contentStart + i] ?? NaN);
    contentStart += count;
  }
  const end = contentStart + length;
  if (!Number.isFinite(end) || end > der.length) {
    throw new Error(`certificate DER: element at offset ${offset} runs past the end`);
  }
  return { contentStart, end };
}

function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new Error('certificate DER: empty object identifier');
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    arcs.push(value);
    value = 0;
  }
  if (bytes[bytes.length - 1]! & 0x80)
    throw new Error('certificate DER: truncated object identifier');
  const first = arcs.shift()!;
  const top = first < 80 ? Math.floor(first / 40) : 2;
  return [top, first - top * 40, ...arcs].join('.');
}
