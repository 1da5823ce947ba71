import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../config/atomic-file.ts';

/**
 * Writes a private key a remote store returned as content to conf/keys/ (0700) as a 0600
 * file, and returns its path: the installers take keys by path, like private_key_path in
 * the local store. The file is rewritten on every fetch, so a rotated key replaces it.
 */
export function writeKeyFile(confDir: string, storeName: string, ref: string, pem: string): string {
  const dir = path.join(confDir, 'keys');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A digest of the reference keeps the name short and free of path characters.
  const id = crypto.createHash('sha256').update(ref).digest('hex').slice(0, 16);
  const file = path.join(dir, `${storeName}-${id}.key`);
  writeFileAtomic(file, pem);
  return file;
}

/** True when a store field holds a PEM or OpenSSH private key rather than a password. */
export function looksLikePrivateKey(value: string | undefined): value is string {
  return Boolean(value && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value));
}
