import type tls from 'node:tls';
import { describeCertificate } from './certificate.ts';
import type { ChainCertificate } from './endpoint.ts';

/**
 * The chain the peer presented, leaf first. Node links each certificate to its issuer
 * among those the peer sent (the scan's secure context trusts no CA, so Node cannot add a
 * root of its own store); a self-signed root points to itself and ends the walk.
 */
// Certificates the peer sent that do not chain to the leaf are not reachable this way and
// are missing from the record; Node exposes no raw list of the Certificate message.
export function peerChain(socket: tls.TLSSocket): ChainCertificate[] {
  const leaf = socket.getPeerCertificate(true);
  if (!leaf || !leaf.raw) return [];

  const chain: ChainCertificate[] = [];
  const seen = new Set<string>();
  let current: tls.DetailedPeerCertificate | undefined = leaf;
  while (current?.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(describeCertificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}
