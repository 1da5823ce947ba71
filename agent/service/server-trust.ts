import fs from 'node:fs';
import tls from 'node:tls';
import { OperationalError } from '../cli/errors.ts';
import type { AgentFiles } from '../config/agent-files.ts';

/**
 * The CA certificates the agent trusts for the manager's server certificate: the one
 * given with `register --ca FILE` (kept as conf/server-ca.pem), else SSL_CERT_FILE (Node
 * ignores it unless started with --use-openssl-ca, so it is read here), else Node's
 * bundled roots; plus, once registered, the manager CA returned at registration.
 */
export function serverTrust(files: AgentFiles, caFile?: string, env = process.env): string[] {
  const managerCa = fs.existsSync(files.managerCa)
    ? [readCa(files.managerCa, 'conf/manager-ca.pem')]
    : [];
  if (caFile) return [readCa(caFile, '--ca'), ...managerCa];
  if (fs.existsSync(files.serverCa))
    return [readCa(files.serverCa, 'conf/server-ca.pem'), ...managerCa];
  if (env.SSL_CERT_FILE) return [readCa(env.SSL_CERT_FILE, 'SSL_CERT_FILE'), ...managerCa];
  return [...tls.rootCertificates, ...managerCa];
}

function readCa(file: string, origin: string): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return text;
  } catch (err) {
    throw new OperationalError(
      `cannot use CA file ${file} (from ${origin}): ${(err as Error).message}; give a PEM file with the manager's CA`,
      'ca-file',
      { cause: err },
    );
  }
}
