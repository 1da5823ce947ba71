import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';
import { SecretBox } from '../config/secret-box.ts';

/** Path of the 0600 key file beside the configuration (shared with the rest of the agent). */
export function keyFilePath(confDir: string): string {
  return path.join(confDir, 'secret.key');
}

/** The agent's SecretBox (AES-256-GCM), its key created on first use. */
export function storeBox(confDir: string): SecretBox {
  return SecretBox.open(keyFilePath(confDir));
}

/**
 * Opens a sealed value, naming `what` (a file, a store's field) when it cannot be
 * decrypted. `context` binds the value to its place, so a sealed value copied into
 * another field does not decrypt there.
 */
export function openSealed(box: SecretBox, sealed: string, context: string, what: string): string {
  if (!SecretBox.isSealed(sealed)) {
    throw damaged(what, 'it is not in the expected encrypted format');
  }
  try {
    return box.open(sealed, context);
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
    `${what} cannot be decrypted: ${why}; restore it and conf/secret.key from a backup ` +
      '(it was left untouched)',
    'secret-damaged',
    { cause },
  );
}
