import * as openpgp from 'openpgp';

import { OperationalError } from '../../agent/cli/errors.ts';
import type { ReleaseKeys } from './release-keys.ts';

/** A detached, armoured signature of `data` by every signing key (two during rotation). */
export async function signDetached(keys: ReleaseKeys, data: Uint8Array | string): Promise<string> {
  // Always the exact bytes (binary signature): a text signature would normalise line ends.
  const binary = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const message = await openpgp.createMessage({ binary });
  return openpgp.sign({
    message,
    signingKeys: keys.signing.map((k) => k.privateKey),
    detached: true,
    format: 'armored',
    date: keys.now,
  });
}

/** A clear-signed document (APT's InRelease) by every signing key. */
export async function signCleartext(keys: ReleaseKeys, text: string): Promise<string> {
  const message = await openpgp.createCleartextMessage({ text });
  return openpgp.sign({
    message,
    signingKeys: keys.signing.map((k) => k.privateKey),
    format: 'armored',
    date: keys.now,
  });
}

/**
 * The armoured public key(s), one block carrying every signing key. Re-read before it is
 * returned: a key file that apt or `rpm --import` cannot parse must never be published.
 */
export async function exportPublicKeys(keys: ReleaseKeys): Promise<string> {
  const binaries = keys.signing.map((k) => k.publicKey.write());
  const joined = Buffer.concat(binaries.map((b) => Buffer.from(b)));
  // With the CRC line: GnuPG 2.2 (apt's gpg --dearmor) misreads some armour without it.
  const armored = openpgp.armor(
    openpgp.enums.armor.publicKey,
    joined,
    undefined,
    undefined,
    undefined,
    true,
  );

  const parsed = await openpgp.readKeys({ armoredKeys: armored });
  const expected = keys.signing.map((k) => k.fingerprint).join(',');
  const actual = parsed.map((k) => k.getFingerprint().toUpperCase()).join(',');
  if (actual !== expected || parsed.some((k) => k.isPrivate())) {
    throw new OperationalError(
      `exported public key file does not round-trip (expected ${expected}, got ${actual}); ` +
        'this is a bug in repo-publish/keys: do not publish.',
      'key_export',
    );
  }
  return armored;
}
