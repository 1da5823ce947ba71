/** One certificate of a chain, as the peer sent it. */
export interface ChainCertificate {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  sans: string[];
  keyType: string;
  keyBits: number | null;
  signatureAlgorithm: string;
  /** SHA-256 of the DER encoding, lower-case hex without separators. */
  sha256: string;
  pem: string;
}

/** Why no certificate was obtained from an endpoint. */
export type EndpointErrorCode =
  | 'refused'
  | 'timeout'
  | 'not-tls'
  | 'handshake'
  | 'dns'
  | 'unreachable';

/** The record discovery produces for one (target, port) pair. */
export interface EndpointResult {
  host: string;
  address: string | null;
  port: number;
  sni: string | null;
  tlsVersion: string | null;
  cipher: string | null;
  chain: ChainCertificate[];
  error?: { code: EndpointErrorCode; message: string };
  /** ISO time the probe finished. */
  scannedAt: string;
}
