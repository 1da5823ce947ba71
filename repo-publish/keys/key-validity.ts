import type { Key } from 'openpgp';

import { OperationalError } from '../../agent/cli/errors.ts';

/** Keys expiring sooner than this are still used, with a warning to plan the rotation. */
export const EXPIRY_WARNING_DAYS = 60;

export interface KeyValidity {
  /** Expiry of the primary key, or null when it never expires. */
  expires: Date | null;
  /** Whole days until expiry, or null when it never expires. */
  daysLeft: number | null;
}

/**
 * Checks that `key` may sign at `now`: not revoked, not expired, with a usable signing
 * (sub)key. Throws an OperationalError naming the key and what to do otherwise.
 */
export async function assertKeyUsable(key: Key, label: string, now: Date): Promise<KeyValidity> {
  const fingerprint = key.getFingerprint().toUpperCase();

  if (await key.isRevoked(undefined, undefined, now)) {
    throw new OperationalError(
      `release key ${label} (${fingerprint}) is revoked: refusing to sign with it. ` +
        'Configure a valid key in CERTAGENT_RELEASE_KEY or CERTAGENT_RELEASE_KEY_FILE.',
      'key_revoked',
    );
  }

  const expiry = await key.getExpirationTime();
  const expires = expiry instanceof Date ? expiry : null;
  if (expires && expires.getTime() <= now.getTime()) {
    throw new OperationalError(
      `release key ${label} (${fingerprint}) expired on ${expires.toISOString()}: refusing to ` +
        'sign with it. Extend its expiry (gpg --quick-set-expire) or rotate to a new key.',
      'key_expired',
    );
  }

  await assertSigningCapable(key, label, fingerprint, now);

  const daysLeft = expires ? Math.floor((expires.getTime() - now.getTime()) / 86_400_000) : null;
  return { expires, daysLeft };
}

async function assertSigningCapable(key: Key, label: string, fp: string, now: Date): Promise<void> {
  try {
    await key.getSigningKey(undefined, now);
  } catch (cause) {
    throw new OperationalError(
      `release key ${label} (${fp}) has no valid signing key at ${now.toISOString()}: ` +
        `${(cause as Error).message}. Use a key with a signing-capable, unexpired (sub)key.`,
      'key_unusable',
      { cause },
    );
  }
}
