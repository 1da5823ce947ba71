import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

/** Files of a throwaway PKI: a CA, a 127.0.0.1 server certificate, client .p12 files. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverKey: string;
  serverCert: string;
  /** Client certificate signed by the CA, in a .p12 protected by `p12Password`. */
  clientP12: string;
  /** A client certificate from another CA, which the server must not trust. */
  strangerP12: string;
  p12Password: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await execa('openssl', args, { cwd: dir });
}

async function signedCert(dir: string, name: string, subject: string, ca: string, ext?: string) {
  await openssl(dir, [
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  ]);
  const extArgs = ext ? ['-extfile', ext] : [];
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    `${name}.crt`,
    ...extArgs,
  ]);
}

/** Creates the PKI with the real openssl tool in `dir`. */
export async function createTestPki(dir: string): Promise<TestPki> {
  fs.mkdirSync(dir, { recursive: true });
  const p12Password = 'p12-test-Pa55';
  for (const ca of ['ca', 'stranger-ca']) {
    await openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${ca} test`,
    ]);
  }
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await signedCert(dir, 'server', '/CN=127.0.0.1', 'ca', 'server.ext');
  await signedCert(dir, 'client', '/CN=certagent-client', 'ca');
  await signedCert(dir, 'stranger', '/CN=certagent-client', 'stranger-ca');
  for (const name of ['client', 'stranger']) {
    await openssl(dir, [
      'pkcs12',
      '-export',
      '-inkey',
      `${name}.key`,
      '-in',
      `${name}.crt`,
      '-out',
      `${name}.p12`,
      '-passout',
      `pass:${p12Password}`,
    ]);
  }
  const at = (f: string) => path.join(dir, f);
  return {
    dir,
    caCert: at('ca.crt'),
    serverKey: at('server.key'),
    serverCert: at('server.crt'),
    clientP12: at('client.p12'),
    strangerP12: at('stranger.p12'),
    p12Password,
  };
}
