/** A signed certificate: the leaf and the issuing chain (leaf first, PEM each). */
export interface SignedCertificate {
  certificatePem: string;
  chainPem: string[];
}

/**
 * Whoever signs the agent's CSR: the manager's CA (through a task result round-trip) in
 * production, an openssl CA in standalone tests. Only the CSR is passed, never a key.
 */
export interface CertificateSigner {
  sign(csrPem: string): Promise<SignedCertificate>;
}
