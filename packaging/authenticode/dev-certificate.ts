import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../../agent/cli/errors.ts';

/** PEM files of a throwaway Authenticode chain: a dev CA and a code-signing leaf. */
export interface DevAuthenticode {
  caCert: string;
  cert: string;
  /** The leaf followed by the CA, as osslsigncode's -certs wants a chain. */
  chain: string;
  key: string;
}

const SUBJECT_CA = '/O=certagent development/CN=certagent DEVELOPMENT code-signing CA';
const SUBJECT_LEAF = '/O=certagent development/CN=certagent DEVELOPMENT code signing';

/**
 * Returns the development Authenticode material cached in `dir`, making it with openssl
 * on first use. The same cached chain signs every build of a machine, which is what keeps
 * two builds of the Windows executables and the MSI byte-identical. The certificates are
 * dated from 2000 (under faketime) so any SOURCE_DATE_EPOCH used as signing time is
 * inside their validity. Never trust this CA outside tests.
 */
export async function loadOrCreateDevAuthenticode(dir: string): Promise<DevAuthenticode> {
  const files = paths(dir);
  if (fs.existsSync(files.chain)) return files;

  const tmp = `${dir}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  await makeChain(paths(tmp), tmp);

  fs.mkdirSync(path.dirname(dir), { recursive: true });
  try {
    fs.renameSync(tmp, dir);
  } catch {
    // A parallel build made it first; use theirs so both sign alike.
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return files;
}

function paths(dir: string): DevAuthenticode {
  return {
    caCert: path.join(dir, 'dev-ca.pem'),
    cert: path.join(dir, 'dev-codesign.pem'),
    chain: path.join(dir, 'dev-codesign-chain.pem'),
    key: path.join(dir, 'dev-codesign.key'),
  };
}

async function makeChain(f: DevAuthenticode, dir: string): Promise<void> {
  const caKey = path.join(dir, 'dev-ca.key');
  const ext = path.join(dir, 'leaf.ext');
  fs.writeFileSync(
    ext,
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' +
      'extendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
  );
  const csr = path.join(dir, 'leaf.csr');

  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:3072',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    f.caCert,
    '-days',
    '36500',
    '-subj',
    SUBJECT_CA,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl([
    'req',
    '-newkey',
    'rsa:3072',
    '-nodes',
    '-keyout',
    f.key,
    '-out',
    csr,
    '-subj',
    SUBJECT_LEAF,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    f.caCert,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '36000',
    '-extfile',
    ext,
    '-out',
    f.cert,
  ]);

  fs.writeFileSync(f.chain, fs.readFileSync(f.cert, 'utf8') + fs.readFileSync(f.caCert, 'utf8'));
  fs.chmodSync(f.key, 0o600);
  fs.rmSync(caKey);
}

async function openssl(args: string[]): Promise<void> {
  const res = await execa('faketime', ['2000-01-01 00:00:00', 'openssl', ...args], {
    reject: false,
  });
  if (res.exitCode !== 0) {
    throw new OperationalError(
      `making the development Authenticode certificate failed (openssl ${args[0]}): ` +
        `${res.stderr.trim()}. Install openssl and faketime (scripts/debian-tools.json).`,
      'authenticode_cert',
    );
  }
}
