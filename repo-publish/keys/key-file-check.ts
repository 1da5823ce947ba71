import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { execa } from 'execa';

import { OperationalError } from '../../agent/cli/errors.ts';

/**
 * Reads the key file the way administrators will, before it is published: `gpg --dearmor`
 * (apt's signed-by keyring) and `rpm --import` (dnf's gpgkey), each of which must list
 * every expected fingerprint. GnuPG 2.2 misreads some armour openpgp.js can write, so a
 * parse by openpgp itself is not proof enough.
 */
export async function assertKeyFileReadable(
  armored: string,
  fingerprints: string[],
): Promise<void> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-keycheck-'));
  try {
    await checkWithGpg(armored, fingerprints, home);
    await checkWithRpm(armored, fingerprints, home);
  } finally {
    await execa('gpgconf', ['--kill', 'all'], { env: { GNUPGHOME: home }, reject: false });
    fs.rmSync(home, { recursive: true, force: true });
  }
}

async function checkWithGpg(armored: string, fingerprints: string[], home: string): Promise<void> {
  const env = { GNUPGHOME: home };
  const ring = path.join(home, 'keyring.gpg');
  const dearmor = await execa('gpg', ['--batch', '--yes', '--dearmor', '-o', ring], {
    env,
    input: armored,
    reject: false,
  });
  const shown = await execa('gpg', ['--batch', '--with-colons', '--show-keys', ring], {
    env,
    reject: false,
  });
  const listed = [...shown.stdout.matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]);
  const missing = fingerprints.filter((f) => !listed.includes(f));
  if (dearmor.exitCode !== 0 || missing.length > 0) {
    fail('gpg --dearmor', missing, `${dearmor.stderr}\n${shown.stderr}`);
  }
}

async function checkWithRpm(armored: string, fingerprints: string[], home: string): Promise<void> {
  const file = path.join(home, 'key.asc');
  fs.writeFileSync(file, armored);
  const db = path.join(home, 'rpmdb');
  const imported = await execa('rpm', ['--dbpath', db, '--import', file], { reject: false });
  const listed = await execa('rpm', ['--dbpath', db, '-q', 'gpg-pubkey', '--qf', '%{VERSION}\\n'], {
    reject: false,
  });
  // rpm names a key by the last 8 hex digits of its fingerprint, in lower case.
  const ids = listed.stdout.split('\n');
  const missing = fingerprints.filter((f) => !ids.includes(f.slice(-8).toLowerCase()));
  if (imported.exitCode !== 0 || missing.length > 0) fail('rpm --import', missing, imported.stderr);
}

function fail(tool: string, missing: string[], stderr: string): never {
  throw new OperationalError(
    `the public key file would not be readable by ` +
      `${tool} (missing: ${missing.join(', ') || 'none'}; ` +
      `${stderr.trim() || 'no error text'}); refusing to publish it. Check the release key ` +
      'with `gpg --show-keys` and re-export it.',
    'key_file_unreadable',
  );
}
