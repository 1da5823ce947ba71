import type { DiscoveredEndpoint, ReportedCertificate } from '../../protocol/tasks.ts';
import type { Db } from './database.ts';

/** A stored certificate: the reported fields plus where and when it was seen. */
export interface CertificateView extends ReportedCertificate {
  firstSeen: string;
  lastSeen: string;
  /** Where it was seen: `agent host:port (sni)`. */
  endpoints: Array<{
    agent: string;
    host: string;
    address: string | null;
    port: number;
    sni: string | null;
  }>;
}

/** Stores one discovered endpoint and every certificate of its chain; repeats update in place. */
export function storeEndpoint(db: Db, agentId: string, ep: DiscoveredEndpoint): void {
  const now = new Date().toISOString();
  for (const cert of ep.chain) storeCertificate(db, cert, now);
  db.prepare(
    `INSERT INTO endpoints(agent_id, host, port, sni, address, tls_version, cipher, chain, \
error_code, error_message, scanned_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(agent_id, host, port, sni) DO UPDATE SET address = excluded.address,
       tls_version = excluded.tls_version, cipher = excluded.cipher, chain = excluded.chain,
       error_code = excluded.error_code, error_message = excluded.error_message, \
scanned_at = excluded.scanned_at`,
  ).run(
    agentId,
    ep.host,
    ep.port,
    ep.sni ?? '',
    ep.address ?? null,
    ep.tlsVersion ?? null,
    ep.cipher ?? null,
    JSON.stringify(ep.chain.map((c) => c.sha256)),
    ep.error?.code ?? null,
    ep.error?.message ?? null,
    typeof ep.scannedAt === 'string' ? ep.scannedAt : now,
  );
}

function storeCertificate(db: Db, c: ReportedCertificate, now: string): void {
  db.prepare(
    `INSERT INTO certificates(sha256, subject, issuer, serial, not_before, not_after, sans, \
key_type, key_bits,
       signature_algorithm, pem, first_seen, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(sha256) DO UPDATE SET last_seen = excluded.last_seen`,
  ).run(
    c.sha256,
    String(c.subject ?? ''),
    String(c.issuer ?? ''),
    String(c.serial ?? ''),
    String(c.notBefore ?? ''),
    String(c.notAfter ?? ''),
    JSON.stringify(Array.isArray(c.sans) ? c.sans : []),
    String(c.keyType ?? ''),
    typeof c.keyBits === 'number' ? c.keyBits : null,
    String(c.signatureAlgorithm ?? ''),
    c.pem,
    now,
    now,
  );
}

interface CertRow {
  sha256: string;
  subject: string;
  issuer: string;
  serial: string;
  not_before: string;
  not_after: string;
  sans: string;
  key_type: string;
  key_bits: number | null;
  signature_algorithm: string;
  pem: string;
  first_seen: string;
  last_seen: string;
}

export function listCertificates(db: Db): CertificateView[] {
  const certs = db
    .prepare('SELECT * FROM certificates ORDER BY subject, sha256')
    .all() as CertRow[];
  const endpoints = db
    .prepare(
      'SELECT e.*, a.name AS agent FROM endpoints e JOIN ' +
        'agents a ON a.id = e.agent_id ORDER BY host, port',
    )
    .all() as Array<{
    agent: string;
    host: string;
    address: string | null;
    port: number;
    sni: string;
    chain: string;
  }>;
  // One pass over the endpoints: certificate → where it was seen.
  const seenAt = new Map<string, CertificateView['endpoints']>();
  for (const e of endpoints) {
    const where = {
      agent: e.agent,
      host: e.host,
      address: e.address,
      port: e.port,
      sni: e.sni || null,
    };
    for (const sha of JSON.parse(e.chain) as string[]) {
      const list = seenAt.get(sha) ?? [];
      list.push(where);
      seenAt.set(sha, list);
    }
  }
  return certs.map((c) => ({
    sha256: c.sha256,
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serial,
    notBefore: c.not_before,
    notAfter: c.not_after,
    sans: JSON.parse(c.sans) as string[],
    keyType: c.key_type,
    keyBits: c.key_bits,
    signatureAlgorithm: c.signature_algorithm,
    firstSeen: c.first_seen,
    lastSeen: c.last_seen,
    endpoints: seenAt.get(c.sha256) ?? [],
    pem: c.pem,
  }));
}
