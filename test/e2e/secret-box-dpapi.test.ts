import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { serviceHostProtector, type KeyProtector } from '../../agent/config/key-protector.ts';
import { SecretBox } from '../../agent/config/secret-box.ts';

// The Windows key-file format and its migration, on Linux, with stand-ins for DPAPI: an
// in-memory protector, and a fake `certagent-service.exe` script run the way the real one is.

const MARK = 'dpapi:v1\n';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-dpapi-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let dir: string;
let keyFile: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(root, 'conf-'));
  keyFile = path.join(dir, 'secret.key');
});

/** Stands in for DPAPI: an authenticated wrap under a key of its own, calls counted. */
function fakeDpapi() {
  const wrapKey = crypto.randomBytes(32);
  const calls = { protect: 0, unprotect: 0 };
  const protector: KeyProtector = {
    protect(key) {
      calls.protect++;
      const iv = crypto.randomBytes(12);
      const c = crypto.createCipheriv('aes-256-gcm', wrapKey, iv);
      const body = Buffer.concat([c.update(key), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    unprotect(blob) {
      calls.unprotect++;
      const d = crypto.createDecipheriv('aes-256-gcm', wrapKey, blob.subarray(0, 12));
      d.setAuthTag(blob.subarray(12, 28));
      try {
        return Buffer.concat([d.update(blob.subarray(28)), d.final()]);
      } catch {
        throw new Error('CryptUnprotectData failed (Windows error 13)');
      }
    },
  };
  return { protector, calls };
}

function keyFileText(): string {
  return fs.readFileSync(keyFile, 'latin1');
}

/** The key a clear (Linux-form) key file holds. */
function writeClearKey(): Buffer {
  const key = crypto.randomBytes(32);
  fs.writeFileSync(keyFile, key, { mode: 0o600 });
  return key;
}

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error, none was thrown');
}

describe('secret-box key file, DPAPI form', () => {
  it(
    'creates the key protected: dpapi:v1, then base64; a second box opens what the first ' +
      'sealed',
    () => {
      const { protector, calls } = fakeDpapi();
      const sealed = SecretBox.open(keyFile, protector).seal('pr0xy-pw', 'proxy');

      const [mark, blob, rest] = keyFileText().split('\n');
      expect(`${mark}\n`).toBe(MARK);
      expect(blob).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      expect(rest).toBe('');
      expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(calls.protect).toBe(1);

      expect(SecretBox.open(keyFile, protector).open(sealed, 'proxy')).toBe('pr0xy-pw');
      expect(calls.unprotect).toBe(1);
    },
  );

  it('migrates a clear key: rewritten protected in place, sealed values still open', () => {
    const key = writeClearKey();
    const sealed = SecretBox.open(keyFile, null).seal('kept across upgrade');
    const { protector, calls } = fakeDpapi();

    expect(SecretBox.open(keyFile, protector).open(sealed)).toBe('kept across upgrade');
    expect(keyFileText().startsWith(MARK)).toBe(true);
    expect(fs.readFileSync(keyFile).includes(key)).toBe(false);
    expect(fs.readFileSync(keyFile).includes(key.toString('base64'))).toBe(false);
    expect(fs.readdirSync(dir)).toEqual(['secret.key']);
    expect(calls.protect).toBe(1);

    // Migrated once: the next open unprotects, it does not protect again.
    expect(SecretBox.open(keyFile, protector).open(sealed)).toBe('kept across upgrade');
    expect(calls.protect).toBe(1);
  });

  it('keeps the clear key untouched when protecting it fails during migration', () => {
    const key = writeClearKey();
    const failing: KeyProtector = {
      protect: () => {
        throw new Error('CryptProtectData failed (Windows error 5)');
      },
      unprotect: () => Buffer.alloc(0),
    };
    const err = thrown(() => SecretBox.open(keyFile, failing));
    expect(err.message).toContain(keyFile);
    expect(err.message).toContain('Windows error 5');
    expect(err.message).toContain('nothing was written');
    expect(fs.readFileSync(keyFile).equals(key)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['secret.key']);
  });

  it('never writes a clear key when protecting a new one fails', () => {
    const failing: KeyProtector = {
      protect: () => {
        throw new Error('CryptProtectData failed (Windows error 5)');
      },
      unprotect: () => Buffer.alloc(0),
    };
    const err = thrown(() => SecretBox.open(keyFile, failing).seal('x'));
    expect(err.message).toContain(keyFile);
    expect(fs.existsSync(keyFile)).toBe(false);
  });

  it('reports a tampered blob with the file and what to do', () => {
    const { protector } = fakeDpapi();
    SecretBox.open(keyFile, protector).seal('x');
    const blob = Buffer.from(keyFileText().slice(MARK.length).trim(), 'base64');
    blob[blob.length - 1] ^= 1;
    fs.writeFileSync(keyFile, `${MARK}${blob.toString('base64')}\n`);

    const err = thrown(() => SecretBox.open(keyFile, protector));
    expect(err.code).toBe('secret-key');
    expect(err.message).toContain(keyFile);
    expect(err.message).toContain('Windows error 13');
    expect(err.message).toMatch(/restore .*from backup/);
  });

  it('reads a DPAPI key file saved with CRLF line ends', () => {
    const { protector } = fakeDpapi();
    const sealed = SecretBox.open(keyFile, protector).seal('crlf');
    fs.writeFileSync(keyFile, keyFileText().replace(/\n/g, '\r\n'));
    expect(SecretBox.open(keyFile, protector).open(sealed)).toBe('crlf');
  });

  it.each([
    ['not base64', `${MARK}@@not base64@@\n`],
    ['an empty blob', `${MARK}\n`],
  ])('rejects a DPAPI key file with %s', (_title, content) => {
    fs.writeFileSync(keyFile, content);
    const err = thrown(() => SecretBox.open(keyFile, fakeDpapi().protector));
    expect(err.message).toContain(keyFile);
    expect(err.message).toContain('not base64');
  });

  it(
    'rejects a blob that opens to a key of the ' + 'wrong size (another program’s DPAPI data)',
    () => {
      const short: KeyProtector = { protect: (k) => k, unprotect: () => Buffer.alloc(16) };
      fs.writeFileSync(keyFile, `${MARK}${Buffer.alloc(64, 7).toString('base64')}\n`);
      const err = thrown(() => SecretBox.open(keyFile, short));
      expect(err.message).toContain(`${keyFile} opens to 16 bytes, expected 32`);
    },
  );

  it('on Linux refuses a DPAPI key file instead of misreading it, naming the file', () => {
    SecretBox.open(keyFile, fakeDpapi().protector).seal('x');
    const err = thrown(() => SecretBox.open(keyFile, null));
    expect(err.message).toContain(keyFile);
    expect(err.message).toContain('Windows machine that wrote it');
  });

  it('on Linux keeps the 32 clear bytes, as before', () => {
    const sealed = SecretBox.open(keyFile).seal('plain');
    expect(fs.readFileSync(keyFile).length).toBe(32);
    expect(SecretBox.open(keyFile).open(sealed)).toBe('plain');
  });
});

/**
 * A fake certagent-service.exe: records its arguments, then `dpapi protect` prefixes and
 * reverses stdin, `dpapi unprotect` undoes that or fails like the real one (one stderr line).
 */
function fakeServiceHost(): { exe: string; argsLog: string } {
  const exe = path.join(dir, 'certagent-service.exe');
  const argsLog = path.join(dir, 'args.log');
  fs.writeFileSync(
    exe,
    `#!${process.execPath}
const fs = require('node:fs');
fs.appendFileSync(${JSON.stringify(argsLog)}, fs.readFileSync('/proc/self/cmdline', 'latin1') ` +
      `+ '\\n');
const input = fs.readFileSync(0);
const magic = Buffer.from('FAKEDPAPI');
const [, , mode, verb] = process.argv;
if (mode !== 'dpapi') process.exit(2);
if (verb === 'protect') {
  process.stdout.write(Buffer.concat([magic, Buffer.from(input).reverse()]));
} else if (input.subarray(0, magic.length).equals(magic)) {
  process.stdout.write(Buffer.from(input.subarray(magic.length)).reverse());
} else {
  process.stderr.write('certagent-service dpapi: CryptUnprotectData failed (Windows error 13)\\n');
  process.exit(1);
}
`,
    { mode: 0o700 },
  );
  return { exe, argsLog };
}

describe('secret-box key file through the service host helper', () => {
  it('passes the key and the blob on stdin only, never in the helper’s arguments', () => {
    const { exe, argsLog } = fakeServiceHost();
    const key = writeClearKey();
    const sealed = SecretBox.open(keyFile, null).seal('secret');

    // Migration (protect), then a fresh open (unprotect).
    SecretBox.open(keyFile, serviceHostProtector(exe));
    expect(SecretBox.open(keyFile, serviceHostProtector(exe)).open(sealed)).toBe('secret');

    const blob = keyFileText().slice(MARK.length).trim();
    const runs = fs.readFileSync(argsLog, 'latin1').trim().split('\n');
    expect(runs.map((r) => r.split('\0').slice(-3, -1).join(' '))).toEqual([
      'dpapi protect',
      'dpapi unprotect',
    ]);
    for (const form of [
      key.toString('latin1'),
      key.toString('hex'),
      key.toString('base64'),
      blob,
    ]) {
      expect(runs.join('\n')).not.toContain(form);
    }
  });

  it('reports the helper’s own failure line for a blob it cannot open', () => {
    const { exe } = fakeServiceHost();
    fs.writeFileSync(keyFile, `${MARK}${Buffer.from('some other blob').toString('base64')}\n`);
    const err = thrown(() => SecretBox.open(keyFile, serviceHostProtector(exe)));
    expect(err.message).toContain(keyFile);
    expect(err.message).toContain('CryptUnprotectData failed (Windows error 13)');
  });

  it('names the missing helper and the key file, and writes no key', () => {
    const missing = path.join(dir, 'absent', 'certagent-service.exe');
    const err = thrown(() => SecretBox.open(keyFile, serviceHostProtector(missing)).seal('x'));
    expect(err.message).toContain(missing);
    expect(err.message).toContain(keyFile);
    expect(err.message).toMatch(/repair the installation/);
    expect(fs.existsSync(keyFile)).toBe(false);

    fs.writeFileSync(keyFile, `${MARK}${Buffer.alloc(200, 1).toString('base64')}\n`);
    const open = thrown(() => SecretBox.open(keyFile, serviceHostProtector(missing)));
    expect(open.code).toBe('secret-key-protector-missing');
    expect(open.message).toContain(keyFile);
    expect(open.message).not.toMatch(/from backup|damaged/);
  });
});
