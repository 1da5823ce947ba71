import fs from 'node:fs';
import path from 'node:path';

import * as openpgp from 'openpgp';

/** Identity of throwaway keys, so nobody mistakes one for the release key. */
export const DEVELOPMENT_KEY_USER = {
  name: 'certagent DEVELOPMENT key (not for production)',
  email: 'development@certagent.invalid',
};

const KEY_FILE = 'release-key.asc';

/**
 * Returns the armoured throwaway key cached in `cacheDir`, generating it on first use.
 * Caching lets `npm run release` and `npm run publish` sign with the same key, so the
 * RPMs built earlier verify against the key file published later.
 */
export async function loadOrCreateDevelopmentKey(cacheDir: string): Promise<string> {
  const file = path.join(cacheDir, KEY_FILE);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');

  // RSA rather than EdDSA: every apt, gpgv and rpm version we target reads RSA keys.
  const { privateKey } = await openpgp.generateKey({
    type: 'rsa',
    rsaBits: 3072,
    userIDs: [DEVELOPMENT_KEY_USER],
    format: 'armored',
  });

  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, privateKey, { mode: 0o600 });
  fs.renameSync(temp, file);
  return privateKey;
}
