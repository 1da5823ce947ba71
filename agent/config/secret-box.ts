import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';
import { platformKeyProtector, type KeyProtector } from './key-protector.ts';

const PREFIX = 'sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** First line of a protected key file; the base64 DPAPI blob follows on the second. */
const PROTECTED_MARK = 'dpapi:v1\n';
// Read with either line end: an editor on Windows may have saved the file with CRLF.
const PROTECTED_HEAD = /^dpapi:v1\r?\n/;

/**
 * Seals small secrets (proxy password, credential-store secrets) with AES-256-GCM under a
 * 32-byte key kept in a 0600 file beside the configuration. A sealed value is a string
 * `sealed:v1:<base64 iv|tag|ciphertext>`, safe to store in JSON.
 *
 * On Windows the key file is `dpapi:v1` and a base64 DPAPI blob (SPEC section 3), made and
 * opened by the service host (key-protector.ts); a key file still in clear, from before, is
 * rewritten protected on first read. On Linux the key is 32 clear bytes in a 0600 file.
 */
export class SecretBox {
  private loaded?: Buffer;

  private constructor(
    private readonly keyFile: string,
    private readonly protector: KeyProtector | null,
  ) {}

  /**
   * A box over the key file. The key is read on first use: only `seal` may create it (0600,
   * fresh random key), and only while nothing sealed exists yet, so a lost key is reported
   * instead of silently replaced by one that opens nothing. `protector` wraps the key at
   * rest (DPAPI on Windows, none on Linux); tests pass their own.
   */
  static open(keyFile: string, protector: KeyProtector | null = platformKeyProtector()): SecretBox {
    const box = new SecretBox(keyFile, protector);
    // A key file that exists but is damaged is reported at once, as before.
    box.loaded = readKey(keyFile, protector);
    return box;
  }

  private key(create: boolean): Buffer {
    this.loaded ??= create
      ? loadOrCreateKey(this.keyFile, this.protector)
      : loadKey(this.keyFile, this.protector);
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
        'a sealed secret could not be decrypted (tampered, or ' +
          'conf/secret.key was replaced); set the secret again',
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
function loadKey(keyFile: string, protector: KeyProtector | null): Buffer {
  const key = readKey(keyFile, protector);
  if (!key) throw missingKey(keyFile, sealedPlaces(keyFile));
  return key;
}

function loadOrCreateKey(keyFile: string, protector: KeyProtector | null): Buffer {
  const existing = readKey(keyFile, protector);
  if (existing) return existing;

  // Values sealed under the lost key would all become unreadable under a new one.
  const sealed = sealedPlaces(keyFile);
  if (sealed.length > 0) throw missingKey(keyFile, sealed);

  fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  const key = crypto.randomBytes(KEY_BYTES);
  // Protected before anything is written: a failing protector leaves no clear key behind.
  const content = protector ? protectedForm(keyFile, key, protector) : key;
  // 'wx' so two processes racing to create it cannot both win with different keys.
  try {
    fs.writeFileSync(keyFile, content, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadKey(keyFile, protector);
    throw err;
  }
  return key;
}

function readKey(keyFile: string, protector: KeyProtector | null): Buffer | undefined {
  let content: Buffer;
  try {
    content = fs.readFileSync(keyFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }

  const head = PROTECTED_HEAD.exec(content.subarray(0, 16).toString('latin1'));
  if (head) return unprotectKey(keyFile, content.subarray(head[0].length), protector);

  const key = checkedKey(keyFile, content, 'is');
  // A clear key from before DPAPI (an upgrade): rewrite it protected, keep using it.
  if (protector) replaceFile(keyFile, protectedForm(keyFile, key, protector));
  return key;
}

/** Opens the base64 blob that follows the `dpapi:v1` line. */
function unprotectKey(keyFile: string, base64: Buffer, protector: KeyProtector | null): Buffer {
  if (!protector) {
    throw new OperationalError(
      `secret key ${keyFile} is DPAPI-protected and can only be opened by certagent on the ` +
        'Windows machine that wrote it; copy the configuration back there, or delete the key ' +
        'and set every secret again',
      'secret-key',
    );
  }

  const text = base64.toString('latin1').trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    throw damagedKey(keyFile, 'its DPAPI blob is not base64');
  }
  let key: Buffer;
  try {
    key = protector.unprotect(Buffer.from(text, 'base64'));
  } catch (err) {
    // A missing helper is a broken install, not a damaged key: say that, not "restore".
    if ((err as OperationalError).code === 'secret-key-protector-missing') {
      throw new OperationalError(
        `secret key ${keyFile} cannot be opened: ${(err as Error).message}`,
        'secret-key-protector-missing',
        { cause: err },
      );
    }
    throw damagedKey(keyFile, (err as Error).message, err);
  }
  return checkedKey(keyFile, key, 'opens to');
}

function damagedKey(keyFile: string, why: string, cause?: unknown): OperationalError {
  return new OperationalError(
    `secret key ${keyFile} cannot be opened (${why}); it was damaged, or protected on another ` +
      "machine: restore this machine's conf/secret.key from backup, or delete it and set " +
      'every secret again',
    'secret-key',
    { cause },
  );
}

function checkedKey(keyFile: string, key: Buffer, verb: string): Buffer {
  if (key.length === KEY_BYTES) return key;
  throw new OperationalError(
    `secret key ${keyFile} ${verb} ${key.length} bytes, expected ${KEY_BYTES}; restore it ` +
      'from backup or delete it and set every secret again',
    'secret-key',
  );
}

/** `dpapi:v1` then the base64 blob; the protector's failure names the key file. */
function protectedForm(keyFile: string, key: Buffer, protector: KeyProtector): Buffer {
  let blob: Buffer;
  try {
    blob = protector.protect(key);
  } catch (err) {
    throw new OperationalError(
      `secret key ${keyFile} could not be DPAPI-protected, nothing was written: ` +
        (err as Error).message,
      'secret-key-protector',
      { cause: err },
    );
  }
  return Buffer.from(`${PROTECTED_MARK}${blob.toString('base64')}\n`, 'latin1');
}

/** Writes beside the file, then renames over it: a reader sees the old or the new key file. */
function replaceFile(file: string, content: Buffer): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new OperationalError(
      `secret key ${file} could not be rewritten DPAPI-protected (${(err as Error).message}); ` +
        'check that the conf folder is writable by this account (the clear key is unchanged)',
      'secret-key',
      { cause: err },
    );
  }
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
    `conf/secret.key is missing (${keyFile}); restore it from a ` +
      `backup (sealed values in ${where} cannot be read without it)`,
    'secret-key-missing',
  );
}
