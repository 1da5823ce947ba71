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
  private loaded?: Buffer;

  private constructor(private readonly keyFile: string) {}

  /**
   * A box over the key file. The key is read on first use: only `seal` may create it (0600,
   * fresh random key), and only while nothing sealed exists yet, so a lost key is reported
   * instead of silently replaced by one that opens nothing.
   */
  static open(keyFile: string): SecretBox {
    const box = new SecretBox(keyFile);
    // A key file that exists but is damaged is reported at once, as before.
    box.loaded = readKey(keyFile);
    return box;
  }

  private key(create: boolean): Buffer {
    this.loaded ??= create ? loadOrCreateKey(this.keyFile) : loadKey(this.keyFile);
    return this.loaded;
  }

  seal(plaintext: string, context = ''): string {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key(true), iv);
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
    const key = this.key(false);
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
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

/** Reads the key; a missing one is an error (decrypting never creates a key). */
function loadKey(keyFile: string): Buffer {
  const key = readKey(keyFile);
  if (!key) throw missingKey(keyFile, sealedPlaces(keyFile));
  return key;
}

function loadOrCreateKey(keyFile: string): Buffer {
  const existing = readKey(keyFile);
  if (existing) return existing;

  // Values sealed under the lost key would all become unreadable under a new one.
  const sealed = sealedPlaces(keyFile);
  if (sealed.length > 0) throw missingKey(keyFile, sealed);

  fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  const key = crypto.randomBytes(32);
  // 'wx' so two processes racing to create it cannot both win with different keys.
  try {
    fs.writeFileSync(keyFile, key, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadKey(keyFile);
    throw err;
  }
  return key;
}

function readKey(keyFile: string): Buffer | undefined {
  let key: Buffer;
  try {
    key = fs.readFileSync(keyFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (key.length !== 32) {
    throw new OperationalError(
      `secret key ${keyFile} is ${key.length} bytes, expected 32; restore it from backup or delete it and set every secret again`,
      'secret-key',
    );
  }
  return key;
}

/** Files beside the key that hold values sealed by it. */
function sealedPlaces(keyFile: string): string[] {
  const conf = path.dirname(keyFile);
  const places: string[] = [];
  const store = path.join(conf, 'local-store.enc');
  if (fs.existsSync(store)) places.push(store);
  const config = path.join(conf, 'agent.json');
  try {
    if (fs.readFileSync(config, 'utf8').includes(PREFIX)) places.push(config);
  } catch {
    // No agent.json (or unreadable): nothing sealed in it that we could lose.
  }
  return places;
}

function missingKey(keyFile: string, sealed: string[]): OperationalError {
  const where = sealed.length > 0 ? sealed.join(', ') : 'agent.json and local-store.enc';
  return new OperationalError(
    `conf/secret.key is missing (${keyFile}); restore it from a backup (sealed values in ${where} cannot be read without it)`,
    'secret-key-missing',
  );
}
