import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';

const PREFIX = 'sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals small secrets (proxy password, credential-store secrets) with AES-256-GCM under a
 * 32-byte key kept in a 0600 file beside the configuration. A sealed value is a string
 * `sealed:v1:<base64 iv|tag|ciphertext>`, safe to store in JSON.
 *
 * TODO: on Windows the key file should be DPAPI-protected (SPEC section 3); today it is
 * only protected by the ProgramData ACLs.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** Opens the key file, creating it (0600) with a fresh random key when absent. */
  static open(keyFile: string): SecretBox {
    return new SecretBox(loadOrCreateKey(keyFile));
  }

  seal(plaintext: string, context = ''): string {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  /** Decrypts a sealed value; a tampered value or the wrong key throws. */
  open(sealed: string, context = ''): string {
    if (!SecretBox.isSealed(sealed)) {
      throw new OperationalError('value is not sealed by secret-box', 'secret-format');
    }
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) {
      throw new OperationalError('sealed value is truncated', 'secret-format');
    }
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch (err) {
      throw new OperationalError(
        'a sealed secret could not be decrypted (tampered, or conf/secret.key was replaced); set the secret again',
        'secret-decrypt',
        { cause: err },
      );
    }
  }

  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }
}

function loadOrCreateKey(keyFile: string): Buffer {
  try {
    const key = fs.readFileSync(keyFile);
    if (key.length !== 32) {
      throw new OperationalError(
        `secret key ${keyFile} is ${key.length} bytes, expected 32; restore it from backup or delete it and set every secret again`,
        'secret-key',
      );
    }
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  const key = crypto.randomBytes(32);
  // 'wx' so two processes racing to create it cannot both win with different keys.
  try {
    fs.writeFileSync(keyFile, key, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateKey(keyFile);
    throw err;
  }
  return key;
}
