import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { CertificateSigner, SignedCertificate } from '../../agent/installers/signer.ts';
import { makeCert, type TestCert } from '../support/certs.ts';

/** A throwaway CA made with the openssl command line, standing in for the manager's CA. */
export interface OpensslCa extends CertificateSigner {
  certPem: string;
  /** CSRs it was asked to sign, to check no key was ever sent. */
  requests: string[];
}

export async function createOpensslCa(dir: string): Promise<OpensslCa> {
  fs.mkdirSync(dir, { recursive: true });
  const root = await makeCert(dir, { cn: 'certagent test CA', ca: true, notAfter: days(30) });
  const [key, cert] = placeAs(root, path.join(dir, 'ca.pem'), path.join(dir, 'ca.key'));
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
  const made = await makeCert(dir, { cn: name, notAfter: days(5) });
  const [key, cert] = placeAs(made, path.join(dir, `${name}.crt`), path.join(dir, `${name}.key`));
  return { cert, key };
}

// The suites name these files in the configurations they write; makeCert picks its own.
function placeAs(made: TestCert, certPath: string, keyPath: string): [string, string] {
  fs.copyFileSync(made.certPath, certPath);
  fs.copyFileSync(made.keyPath, keyPath);
  return [keyPath, certPath];
}

function days(n: number): Date {
  return new Date(Date.now() + n * 86_400_000);
}
