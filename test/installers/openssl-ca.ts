import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { CertificateSigner, SignedCertificate } from '../../agent/installers/signer.ts';

/** A throwaway CA made with the openssl command line, standing in for the manager's CA. */
export interface OpensslCa extends CertificateSigner {
  certPem: string;
  /** CSRs it was asked to sign, to check no key was ever sent. */
  requests: string[];
}

export async function createOpensslCa(dir: string): Promise<OpensslCa> {
  fs.mkdirSync(dir, { recursive: true });
  const key = path.join(dir, 'ca.key');
  const cert = path.join(dir, 'ca.pem');
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    '/CN=certagent test CA',
    '-days',
    '30',
  ]);
  const requests: string[] = [];
  let serial = 0;
  return {
    certPem: fs.readFileSync(cert, 'utf8'),
    requests,
    async sign(csrPem: string): Promise<SignedCertificate> {
      requests.push(csrPem);
      const n = ++serial;
      const csr = path.join(dir, `req-${n}.csr`);
      const out = path.join(dir, `cert-${n}.pem`);
      fs.writeFileSync(csr, csrPem);
      await execa('openssl', [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        cert,
        '-CAkey',
        key,
        '-set_serial',
        String(1000 + n),
        '-days',
        '20',
        '-copy_extensions',
        'copy',
        '-out',
        out,
      ]);
      return {
        certificatePem: fs.readFileSync(out, 'utf8'),
        chainPem: [fs.readFileSync(cert, 'utf8')],
      };
    },
  };
}

/** A self-signed certificate and key for the site's initial state. */
export async function selfSigned(
  dir: string,
  name: string,
): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    `/CN=${name}`,
    '-days',
    '5',
  ]);
  return { cert, key };
}
