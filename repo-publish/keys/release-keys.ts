import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as openpgp from 'openpgp';

import { OperationalError } from '../../agent/cli/errors.ts';
import { loadOrCreateDevelopmentKey } from './development-key.ts';
import { assertKeyUsable, EXPIRY_WARNING_DAYS } from './key-validity.ts';

/** One usable signing key, decrypted in memory only. */
export interface ReleaseKey {
  /** Where it came from: `CERTAGENT_RELEASE_KEY`, a file path, or `development`. */
  label: string;
  privateKey: openpgp.PrivateKey;
  publicKey: openpgp.PublicKey;
  /** Upper-case hex fingerprint of the primary key. */
  fingerprint: string;
  expires: Date | null;
  /** Decrypted armoured private key, for tools such as rpmsign that need their own copy. */
  armoredPrivateKey: string;
  armoredPublicKey: string;
}

export interface ReleaseKeys {
  /** The current key first, then the next key during a rotation. */
  signing: ReleaseKey[];
  /** True when no key was configured and a throwaway key was generated. */
  development: boolean;
  /** The instant signatures are dated and validity was checked at. */
  now: Date;
}

export interface LoadReleaseKeysOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the throwaway key is cached (default `<repo>/.cache/dev-keys`). */
  devKeyCacheDir?: string;
  /** Refuse to fall back to a throwaway key (a real release). */
  requireConfigured?: boolean;
  now?: Date;
  /** Receives warnings and the throwaway-key announcement (default: stderr). */
  warn?: (message: string) => void;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_DEV_KEY_CACHE = path.join(REPO_ROOT, '.cache', 'dev-keys');

/**
 * Loads the release key(s) from the environment or files, or a cached throwaway key when
 * none is configured. Refuses expired or revoked keys; warns within 60 days of expiry.
 */
export async function loadReleaseKeys(opts: LoadReleaseKeysOptions = {}): Promise<ReleaseKeys> {
  const env = opts.env ?? process.env;
  const now = opts.now ?? new Date();
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`));

  const current = readConfiguredKey(env, 'CERTAGENT_RELEASE_KEY');
  const next = readConfiguredKey(env, 'CERTAGENT_RELEASE_KEY_NEXT');
  if (!current && next) {
    throw new OperationalError(
      'CERTAGENT_RELEASE_KEY_NEXT is set but CERTAGENT_RELEASE_KEY is not: a rotation needs ' +
        'the current key too. Set CERTAGENT_RELEASE_KEY or CERTAGENT_RELEASE_KEY_FILE.',
      'key_config',
    );
  }

  if (!current) return loadDevelopmentKeys(opts, now, warn);

  const passphrase = env.CERTAGENT_RELEASE_KEY_PASSPHRASE;
  const nextPassphrase = env.CERTAGENT_RELEASE_KEY_NEXT_PASSPHRASE ?? passphrase;
  const signing = [await openReleaseKey(current, passphrase, now, warn)];
  if (next) signing.push(await openReleaseKey(next, nextPassphrase, now, warn));

  assertDistinct(signing);
  return { signing, development: false, now };
}

interface ConfiguredKey {
  label: string;
  armored: string;
}

function readConfiguredKey(env: NodeJS.ProcessEnv, name: string): ConfiguredKey | null {
  const inline = env[name];
  if (inline && inline.trim() !== '') return { label: name, armored: inline };

  const file = env[`${name}_FILE`];
  if (!file) return null;
  try {
    return { label: file, armored: fs.readFileSync(file, 'utf8') };
  } catch (cause) {
    throw new OperationalError(
      `cannot read release key file ${file} (from ${name}_FILE): ${(cause as Error).message}. ` +
        'Check the path and that this user may read it.',
      'key_file',
      { cause },
    );
  }
}

async function loadDevelopmentKeys(
  opts: LoadReleaseKeysOptions,
  now: Date,
  warn: (m: string) => void,
): Promise<ReleaseKeys> {
  if (opts.requireConfigured) {
    throw new OperationalError(
      'no release key configured: set CERTAGENT_RELEASE_KEY (armoured private key) or ' +
        'CERTAGENT_RELEASE_KEY_FILE, with CERTAGENT_RELEASE_KEY_PASSPHRASE if it is protected.',
      'key_missing',
    );
  }

  const cacheDir = opts.devKeyCacheDir ?? DEFAULT_DEV_KEY_CACHE;
  const armored = await loadOrCreateDevelopmentKey(cacheDir);
  const key = await openReleaseKey({ label: 'development', armored }, undefined, now, warn);
  warn(developmentBanner(key.fingerprint, cacheDir));
  return { signing: [key], development: true, now };
}

function developmentBanner(fingerprint: string, cacheDir: string): string {
  const line = '!'.repeat(78);
  return [
    line,
    '!! NO RELEASE KEY CONFIGURED: signing with a THROWAWAY DEVELOPMENT KEY',
    `!! fingerprint ${fingerprint}`,
    `!! cached in ${cacheDir}; nobody should trust what it signs.`,
    '!! Set CERTAGENT_RELEASE_KEY or CERTAGENT_RELEASE_KEY_FILE for a real release.',
    line,
  ].join('\n');
}

async function openReleaseKey(
  source: ConfiguredKey,
  passphrase: string | undefined,
  now: Date,
  warn: (m: string) => void,
): Promise<ReleaseKey> {
  const privateKey = await decrypt(await parsePrivateKey(source), source.label, passphrase);
  const validity = await assertKeyUsable(privateKey, source.label, now);
  const fingerprint = privateKey.getFingerprint().toUpperCase();

  if (validity.daysLeft !== null && validity.daysLeft < EXPIRY_WARNING_DAYS) {
    warn(
      `warning: release key ${source.label} (${fingerprint}) expires in ${validity.daysLeft} ` +
        `days (${validity.expires?.toISOString()}): extend it or start a rotation with ` +
        'CERTAGENT_RELEASE_KEY_NEXT.',
    );
  }

  const publicKey = privateKey.toPublic();
  return {
    label: source.label,
    privateKey,
    publicKey,
    fingerprint,
    expires: validity.expires,
    armoredPrivateKey: privateKey.armor(),
    armoredPublicKey: publicKey.armor(),
  };
}

async function parsePrivateKey(source: ConfiguredKey): Promise<openpgp.PrivateKey> {
  try {
    return await openpgp.readPrivateKey({ armoredKey: source.armored });
  } catch (cause) {
    throw new OperationalError(
      `release key ${source.label} is not an armoured OpenPGP private key ` +
        `(${(cause as Error).message}). Export it with gpg --armor --export-secret-keys.`,
      'key_parse',
      { cause },
    );
  }
}

async function decrypt(
  key: openpgp.PrivateKey,
  label: string,
  passphrase: string | undefined,
): Promise<openpgp.PrivateKey> {
  if (key.isDecrypted()) return key;

  if (!passphrase) {
    throw new OperationalError(
      `release key ${label} is passphrase-protected: set CERTAGENT_RELEASE_KEY_PASSPHRASE ` +
        '(or CERTAGENT_RELEASE_KEY_NEXT_PASSPHRASE for the next key).',
      'key_passphrase',
    );
  }
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch (cause) {
    // The library's message never contains the passphrase, only that it was wrong.
    throw new OperationalError(
      `cannot unlock release key ${label}: ${(cause as Error).message}. ` +
        'Check CERTAGENT_RELEASE_KEY_PASSPHRASE.',
      'key_passphrase',
      { cause },
    );
  }
}

function assertDistinct(keys: ReleaseKey[]): void {
  if (keys.length === 2 && keys[0]!.fingerprint === keys[1]!.fingerprint) {
    throw new OperationalError(
      `CERTAGENT_RELEASE_KEY and CERTAGENT_RELEASE_KEY_NEXT are the same key ` +
        `(${keys[0]!.fingerprint}): a rotation needs a new key as the next one.`,
      'key_config',
    );
  }
}
