import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

/**
 * Test certificates made by the real `openssl` CLI: CAs, intermediates and leaves with the
 * key type, digest, validity and names a test asks for. Each certificate lives in its own
 * directory under `dir` as cert.pem and key.pem.
 */
export type KeySpec =
  | { type: 'rsa'; bits?: number }
  | { type: 'ec'; curve?: 'P-256' | 'P-384' | 'P-521' }
  | { type: 'ed25519' };

export interface CertOptions {
  /** Common name of the subject. */
  cn: string;
  /** DNS names or IP addresses (`DNS:`/`IP:` prefixes optional). */
  sans?: string[];
  key?: KeySpec;
  digest?: 'sha256' | 'sha384' | 'sha1';
  notBefore?: Date;
  notAfter?: Date;
  /** A CA certificate (root or intermediate) rather than a server leaf. */
  ca?: boolean;
}

export interface TestCert {
  dir: string;
  certPath: string;
  keyPath: string;
  pem: string;
}

const DAY = 86_400_000;

/** Makes a certificate signed by `issuer`, or self-signed without one. */
export async function makeCert(
  dir: string,
  options: CertOptions,
  issuer?: TestCert,
): Promise<TestCert> {
  const certDir = await fs.mkdtemp(path.join(dir, `${safeName(options.cn)}-`));
  const keyPath = path.join(certDir, 'key.pem');
  const certPath = path.join(certDir, 'cert.pem');
  await generateKey(keyPath, options.key ?? { type: 'rsa', bits: 2048 });

  const csrPath = path.join(certDir, 'req.csr');
  await execa('openssl', [
    'req',
    '-new',
    '-key',
    keyPath,
    '-subj',
    `/CN=${options.cn}`,
    '-out',
    csrPath,
  ]);

  await signWithOpensslCa(certDir, csrPath, certPath, options, issuer ?? { keyPath, certPath: '' });
  const pem = await fs.readFile(certPath, 'utf8');
  return { dir: certDir, certPath, keyPath, pem };
}

/** A root, an intermediate and a leaf, plus the file a server presents (leaf + intermediate). */
export interface TestChain {
  root: TestCert;
  intermediate: TestCert;
  leaf: TestCert;
  /** leaf then intermediate, as servers send it. */
  fullchainPath: string;
}

export async function makeChain(
  dir: string,
  leaf: CertOptions,
  ca: { key?: KeySpec; digest?: CertOptions['digest'] } = {},
): Promise<TestChain> {
  const root = await makeCert(dir, { cn: `${leaf.cn} Test Root`, ca: true, ...ca });
  const intermediate = await makeCert(
    dir,
    { cn: `${leaf.cn} Test Intermediate`, ca: true, ...ca },
    root,
  );
  const leafCert = await makeCert(dir, leaf, intermediate);
  const fullchainPath = path.join(leafCert.dir, 'fullchain.pem');
  await fs.writeFile(fullchainPath, leafCert.pem + intermediate.pem);
  return { root, intermediate, leaf: leafCert, fullchainPath };
}

/** SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it, as lower-case hex. */
export async function opensslFingerprint(certPath: string): Promise<string> {
  const { stdout } = await execa('openssl', [
    'x509',
    '-in',
    certPath,
    '-noout',
    '-fingerprint',
    '-sha256',
  ]);
  return stdout.replace(/^.*=/, '').replaceAll(':', '').trim().toLowerCase();
}

/** The signature algorithm `openssl x509 -text` names. */
export async function opensslSignatureAlgorithm(certPath: string): Promise<string> {
  const { stdout } = await execa('openssl', ['x509', '-in', certPath, '-noout', '-text']);
  return /Signature Algorithm: (\S+)/.exec(stdout)?.[1] ?? '';
}

async function generateKey(keyPath: string, key: KeySpec): Promise<void> {
  const args =
    key.type === 'rsa'
      ? ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${key.bits ?? 2048}`]
      : key.type === 'ec'
        ? ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${key.curve ?? 'P-256'}`]
        : ['-algorithm', 'ED25519'];
  await execa('openssl', ['genpkey', ...args, '-out', keyPath]);
}

// `openssl ca` is the one signing command of OpenSSL 3.0 that takes explicit validity
// dates, which expired and not-yet-valid certificates need.
async function signWithOpensslCa(
  certDir: string,
  csrPath: string,
  certPath: string,
  options: CertOptions,
  issuer: { keyPath: string; certPath: string },
): Promise<void> {
  const configPath = path.join(certDir, 'ca.cnf');
  await fs.writeFile(path.join(certDir, 'index.txt'), '');
  await fs.writeFile(configPath, caConfig(certDir, options));

  const notBefore = options.notBefore ?? new Date(Date.now() - DAY);
  const notAfter = options.notAfter ?? new Date(Date.now() + 365 * DAY);
  const signer = issuer.certPath ? ['-cert', issuer.certPath] : ['-selfsign'];
  // ed25519 signs without a separate digest; openssl ca wants the name 'null' then.
  const digest =
    options.key?.type === 'ed25519' && !issuer.certPath ? 'null' : (options.digest ?? 'sha256');
  await execa('openssl', [
    'ca',
    '-batch',
    '-notext',
    '-config',
    configPath,
    '-in',
    csrPath,
    '-out',
    certPath,
    '-keyfile',
    issuer.keyPath,
    ...signer,
    '-md',
    digest,
    '-extensions',
    'ext',
    '-startdate',
    asn1Time(notBefore),
    '-enddate',
    asn1Time(notAfter),
  ]);
}

function caConfig(certDir: string, options: CertOptions): string {
  const ext = options.ca
    ? ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign']
    : [
        'basicConstraints = CA:FALSE',
        'keyUsage = critical, digitalSignature, keyEncipherment',
        'extendedKeyUsage = serverAuth',
        `subjectAltName = ${sanList(options.sans ?? [options.cn])}`,
      ];
  return [
    '[ca]',
    'default_ca = test_ca',
    '[test_ca]',
    `database = ${path.join(certDir, 'index.txt')}`,
    `new_certs_dir = ${certDir}`,
    'rand_serial = yes',
    'policy = any_name',
    'unique_subject = no',
    'copy_extensions = none',
    '[any_name]',
    'commonName = supplied',
    '[ext]',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    ...ext,
    '',
  ].join('\n');
}

function sanList(sans: string[]): string {
  return sans
    .map((s) => (/^(DNS|IP):/.test(s) ? s : /^[\d.]+$|:/.test(s) ? `IP:${s}` : `DNS:${s}`))
    .join(', ');
}

// YYYYMMDDHHMMSSZ, the GeneralizedTime form `openssl ca` accepts for any year.
function asn1Time(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function safeName(cn: string): string {
  return cn.replace(/[^a-z0-9.-]+/gi, '_').slice(0, 40);
}
