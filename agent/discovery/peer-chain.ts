import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { describeX509 } from './certificate.ts';
import type { ChainCertificate } from './endpoint.ts';

/**
 * The chain the peer presented, leaf first. Node links each certificate to its issuer
 * among those the peer sent (the scan's secure context trusts no CA, so Node cannot add a
 * root of its own store); a self-signed root points to itself and ends the walk.
 */
// Certificates the peer sent that do not chain to the leaf are not reachable this way and
// are missing from the record; Node exposes no raw list of the Certificate message.
// getPeerX509Certificate, not getPeerCertificate(true): the latter converts every
// certificate into a plain object (names, key, modulus as hex) that discovery would throw
// away, and on a fast sweep that conversion is the client's largest cost per endpoint.
export function peerChain(socket: tls.TLSSocket): ChainCertificate[] {
  const chain: ChainCertificate[] = [];
  const seen = new Set<string>();
  let current: X509Certificate | undefined = socket.getPeerX509Certificate();
  while (current && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(describeX509(current));
    current = current.issuerCertificate;
  }
  return chain;
}
