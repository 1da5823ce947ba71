import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';

// TODO: agent/config/secret-box.ts (the configuration engineer's AES-256-GCM box) had not
// landed when this was written; this file does the same job with the same key file name so
// the two can be merged without re-encrypting anything. Windows DPAPI protection of the
// key file is still missing: there the key file is only protected by its ACL.

const KEY_FILE = 'secret.key';
const FORMAT = 'cagcm1';

/** Path of the 0600 key file that sits beside the configuration. */
export function keyFilePath(confDir: string): string {
  return path.join(confDir, KEY_FILE);
}

/** Reads the key, creating it (0600) on first use. */
export function loadOrCreateKey(confDir: string): Buffer {
  const file = keyFilePath(confDir);
  if (!fs.existsSync(file)) return createKey(file);

  const key = readKey(file);
  if (key.length !== 32) {
    throw new OperationalError(
      `key file ${file} does not hold a 256-bit key (${key.length} bytes); restore it from ` +
        'a backup, or every secret encrypted with it is lost',
      'secret-key-invalid',
    );
  }
  return key;
}

function readKey(file: string): Buffer {
  try {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  } catch (err) {
    throw new OperationalError(
      `cannot read key file ${file}: ${(err as Error).message}; run as the agent's user`,
      'secret-key-unreadable',
      { cause: err },
    );
  }
}

function createKey(file: string): Buffer {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  const key = crypto.randomBytes(32);
  // 'wx' so two processes starting at once cannot overwrite each other's key.
  fs.writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

/** Encrypts a string into `cagcm1:<iv>:<tag>:<ciphertext>` (base64 parts). */
export function sealString(key: Buffer, plain: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [FORMAT, iv.toString('base64'), tag.toString('base64'), data.toString('base64')].join(':');
}

/** Decrypts what sealString produced; throws (with `what` in the message) when tampered. */
export function openString(key: Buffer, sealed: string, what: string): string {
  const [format, iv, tag, data] = sealed.split(':');
  if (format !== FORMAT || !iv || !tag || data === undefined) {
    throw damaged(what, 'it is not in the expected encrypted format');
  }
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString(
      'utf8',
    );
  } catch (err) {
    throw damaged(
      what,
      'it fails its integrity check (modified, or encrypted with another key)',
      err,
    );
  }
}

function damaged(what: string, why: string, cause?: unknown): OperationalError {
  return new OperationalError(
    `${what} cannot be decrypted: ${why}; restore it and its key file from a backup ` +
      '(it was left untouched)',
    'secret-damaged',
    { cause },
  );
}
