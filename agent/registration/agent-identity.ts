import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import crypto, { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';
import type { AgentFiles } from '../config/agent-files.ts';
import { writeFileAtomic } from '../config/atomic-file.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A fresh key pair and the PKCS#10 request that asks the manager to certify it. */
export interface PendingIdentity {
  keyPem: string;
  csrPem: string;
}

/**
 * Generates the agent's key pair and a CSR signed by it. The private key never leaves
 * the machine; the manager sets the certificate subject itself.
 */
export async function createPendingIdentity(hostname: string): Promise<PendingIdentity> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${hostname.replace(/[,=+<>#;"\\]/g, '_')}`,
    keys,
    signingAlgorithm: ALG,
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = crypto
    .createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' });
  return { keyPem: keyPem as string, csrPem: csr.toString('pem') };
}

/** Writes the key (0600), the issued certificate and the manager CA, each atomically. */
export function saveIdentity(
  files: AgentFiles,
  keyPem: string,
  certPem: string,
  caPem: string,
): void {
  fs.mkdirSync(path.dirname(files.identityKey), { recursive: true, mode: 0o700 });
  writeFileAtomic(files.identityKey, keyPem, 0o600);
  writeFileAtomic(files.identityCert, certPem, 0o644);
  writeFileAtomic(files.managerCa, caPem, 0o644);
}

/** The stored identity, or undefined when the agent is not registered. */
export function loadIdentity(files: AgentFiles): { key: string; cert: string } | undefined {
  if (!fs.existsSync(files.identityKey) || !fs.existsSync(files.identityCert)) return undefined;
  return {
    key: fs.readFileSync(files.identityKey, 'utf8'),
    cert: fs.readFileSync(files.identityCert, 'utf8'),
  };
}

/**
 * Parses the stored identity before the service connects: a damaged agent.pem/agent.key
 * would otherwise surface as an unhelpful TLS error blamed on the network.
 */
export function assertIdentityReadable(
  files: AgentFiles,
  identity: { key: string; cert: string },
): void {
  const checks: [string, () => unknown][] = [
    [files.identityCert, () => new crypto.X509Certificate(identity.cert)],
    [files.identityKey, () => crypto.createPrivateKey(identity.key)],
  ];
  for (const [file, parse] of checks) {
    try {
      parse();
    } catch (err) {
      throw new OperationalError(
        `${file} is damaged (${(err as Error).message}); restore it ` +
          `from a backup or register again with --force and a new token`,
        'identity-damaged',
        { cause: err },
      );
    }
  }
}
