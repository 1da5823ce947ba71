import fs from 'node:fs';
import tls from 'node:tls';
import { OperationalError } from '../cli/errors.ts';
import type { AgentFiles } from '../config/agent-files.ts';

/** What the register call trusts, and the PEM to pin for later connections (none: Node's roots). */
export interface RegistrationTrust {
  ca: string[];
  pin?: string;
}

/**
 * The CA certificates the register call trusts for the manager's server certificate: the
 * one given with `register --ca FILE`, else conf/server-ca.pem (an earlier --ca), else
 * SSL_CERT_FILE (Node ignores it unless started with --use-openssl-ca, so it is read here),
 * else Node's bundled roots; plus the manager CA of an earlier registration (--force).
 */
export function registrationTrust(
  files: AgentFiles,
  caFile?: string,
  env = process.env,
): RegistrationTrust {
  const managerCa = fs.existsSync(files.managerCa)
    ? [readCa(files.managerCa, 'conf/manager-ca.pem')]
    : [];
  const pinned = (pem: string) => ({ ca: [pem, ...managerCa], pin: pem });
  if (caFile) return pinned(readCa(caFile, '--ca'));
  if (fs.existsSync(files.serverCa)) return pinned(readCa(files.serverCa, 'conf/server-ca.pem'));
  if (env.SSL_CERT_FILE) return pinned(readCa(env.SSL_CERT_FILE, 'SSL_CERT_FILE'));
  return { ca: [...tls.rootCertificates, ...managerCa] };
}

/**
 * What every connection after registration trusts: the manager CA received at registration
 * plus the CA the register call itself trusted (conf/server-ca.pem, or Node's bundled roots
 * when it used those). SSL_CERT_FILE is deliberately not read: in the container image it
 * always names the image's bundle, and a registered agent must keep its pin whatever the
 * environment of a later start says.
 */
export function pinnedManagerTrust(files: AgentFiles): string[] {
  if (!fs.existsSync(files.managerCa)) {
    throw new OperationalError(
      `the manager CA received at registration is missing (${files.managerCa}); ` +
        `register again with "certagent register --force --token T"`,
      'ca-file',
    );
  }
  const managerCa = readCa(files.managerCa, 'conf/manager-ca.pem');
  if (fs.existsSync(files.serverCa)) {
    return [managerCa, readCa(files.serverCa, 'conf/server-ca.pem')];
  }
  return [managerCa, ...tls.rootCertificates];
}

function readCa(file: string, origin: string): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return text;
  } catch (err) {
    throw new OperationalError(
      `cannot use CA file ${file} (from ${origin}): ` +
        `${(err as Error).message}; give a PEM file with the manager's CA`,
      'ca-file',
      { cause: err },
    );
  }
}
