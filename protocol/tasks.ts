/**
 * Task kinds known to the protocol, with their payload and result shapes. A new kind
 * (node discovery, installation, hold-at-version, ...) adds its name to TASK_KINDS, its
 * payload and item types here, and a handler on each side: manager/tasks/kinds.ts and
 * agent/service/task-handlers.ts.
 */
export const TASK_KINDS = {
  discovery: 'discovery',
  updateHold: 'update-hold',
} as const;

/** Certificate discovery over targets and ports (SPEC section 3, Discovery). */
export interface DiscoveryPayload {
  /** Host names, addresses, CIDR ranges or `a-b` ranges, as the operator wrote them. */
  targets: string[];
  /** Port list and ranges, e.g. `443,8443,9000-9010`. */
  ports: string;
  sni?: string;
}

/** One certificate of a chain as reported by the agent. */
export interface ReportedCertificate {
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

/** A discovery result item: one endpoint, its chain (leaf first) or why there is none. */
export interface DiscoveredEndpoint {
  host: string;
  address: string | null;
  port: number;
  sni: string | null;
  tlsVersion: string | null;
  cipher: string | null;
  chain: ReportedCertificate[];
  error?: { code: string; message: string };
  /** ISO time the probe finished. */
  scannedAt: string;
}
