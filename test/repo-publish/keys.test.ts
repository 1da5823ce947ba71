import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import * as openpgp from 'openpgp';
import { afterAll, describe, expect, it } from 'vitest';

import {
  exportPublicKeys,
  loadReleaseKeys,
  signCleartext,
  signDetached,
} from '../../repo-publish/keys/index.ts';
import { assertKeyFileReadable } from '../../repo-publish/keys/key-file-check.ts';
import { describeWithTools } from '../support/tools.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-keys-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const DAY = 86_400;

async function makeKey(
  name: string,
  opts: { passphrase?: string; lifetimeDays?: number; bornDaysAgo?: number } = {},
): Promise<string> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    userIDs: [{ name, email: `${name}@certagent.invalid` }],
    passphrase: opts.passphrase,
    keyExpirationTime: opts.lifetimeDays ? opts.lifetimeDays * DAY : 0,
    date: new Date(Date.now() - (opts.bornDaysAgo ?? 0) * DAY * 1000),
    format: 'armored',
  });
  return privateKey;
}

function collect(): { warn: (m: string) => void; messages: string[] } {
  const messages: string[] = [];
  return { warn: (m) => messages.push(m), messages };
}

describe('loadReleaseKeys', () => {
  it('generates one throwaway key, announces it, and reuses it from the cache', async () => {
    const cache = path.join(tmp, 'dev-cache');
    const first = collect();
    const a = await loadReleaseKeys({ env: {}, devKeyCacheDir: cache, warn: first.warn });
    const b = await loadReleaseKeys({ env: {}, devKeyCacheDir: cache, warn: () => {} });

    expect(a.development).toBe(true);
    expect(a.signing).toHaveLength(1);
    expect(b.signing[0]!.fingerprint).toBe(a.signing[0]!.fingerprint);
    expect(first.messages.join('\n')).toContain('THROWAWAY DEVELOPMENT KEY');
    expect(first.messages.join('\n')).toContain(a.signing[0]!.fingerprint);
    expect(fs.statSync(path.join(cache, 'release-key.asc')).mode & 0o077).toBe(0);
  });

  it('refuses to fall back to a throwaway key when a configured key is required', async () => {
    await expect(loadReleaseKeys({ env: {}, requireConfigured: true })).rejects.toThrow(
      /no release key configured.*CERTAGENT_RELEASE_KEY/,
    );
  });

  it('reads a passphrase-protected key from a file and needs the passphrase', async () => {
    const file = path.join(tmp, 'protected.asc');
    fs.writeFileSync(file, await makeKey('protected', { passphrase: 'hunter2-long' }));
    const env = { CERTAGENT_RELEASE_KEY_FILE: file };

    await expect(loadReleaseKeys({ env })).rejects.toThrow(/passphrase-protected/);
    await expect(
      loadReleaseKeys({ env: { ...env, CERTAGENT_RELEASE_KEY_PASSPHRASE: 'wrong' } }),
    ).rejects.toThrow(/cannot unlock release key .*protected\.asc/);

    const ok = await loadReleaseKeys({
      env: { ...env, CERTAGENT_RELEASE_KEY_PASSPHRASE: 'hunter2-long' },
    });
    expect(ok.development).toBe(false);
    expect(ok.signing[0]!.privateKey.isDecrypted()).toBe(true);
  });

  it('names the file when the key file is missing or not a key', async () => {
    const missing = path.join(tmp, 'nope.asc');
    await expect(loadReleaseKeys({ env: { CERTAGENT_RELEASE_KEY_FILE: missing } })).rejects.toThrow(
      /cannot read release key file .*nope\.asc/,
    );
    await expect(
      loadReleaseKeys({ env: { CERTAGENT_RELEASE_KEY: 'not a key at all' } }),
    ).rejects.toThrow(/not an armoured OpenPGP private key/);
  });

  it('refuses an expired key', async () => {
    const armored = await makeKey('expired', { lifetimeDays: 5, bornDaysAgo: 10 });
    await expect(loadReleaseKeys({ env: { CERTAGENT_RELEASE_KEY: armored } })).rejects.toThrow(
      /expired on .*refusing to sign/,
    );
  });

  it('refuses a revoked key', async () => {
    const armored = await makeKey('revoked');
    const key = await openpgp.readPrivateKey({ armoredKey: armored });
    const revoked = await openpgp.revokeKey({ key, format: 'armored' });
    await expect(
      loadReleaseKeys({ env: { CERTAGENT_RELEASE_KEY: revoked.privateKey } }),
    ).rejects.toThrow(/is revoked: refusing to sign/);
  });

  it('warns when the key expires within 60 days, and not otherwise', async () => {
    const soon = collect();
    await loadReleaseKeys({
      env: { CERTAGENT_RELEASE_KEY: await makeKey('soon', { lifetimeDays: 30 }) },
      warn: soon.warn,
    });
    expect(soon.messages.join('\n')).toMatch(/expires in 29 days/);

    const later = collect();
    await loadReleaseKeys({
      env: { CERTAGENT_RELEASE_KEY: await makeKey('later', { lifetimeDays: 400 }) },
      warn: later.warn,
    });
    expect(later.messages).toEqual([]);
  });

  it('refuses a rotation without a current key, or with the same key twice', async () => {
    const armored = await makeKey('same');
    await expect(loadReleaseKeys({ env: { CERTAGENT_RELEASE_KEY_NEXT: armored } })).rejects.toThrow(
      /needs the current key/,
    );
    await expect(
      loadReleaseKeys({
        env: { CERTAGENT_RELEASE_KEY: armored, CERTAGENT_RELEASE_KEY_NEXT: armored },
      }),
    ).rejects.toThrow(/are the same key/);
  });
});

describeWithTools('the key file as gpg and rpm read it', ['gpg', 'rpm'], () => {
  it('accepts both keys of a rotation, and refuses a damaged or incomplete file', async () => {
    const keys = await loadReleaseKeys({
      env: {
        CERTAGENT_RELEASE_KEY: await makeKey('file-a'),
        CERTAGENT_RELEASE_KEY_NEXT: await makeKey('file-b'),
      },
    });
    const fingerprints = keys.signing.map((k) => k.fingerprint);
    const armored = await exportPublicKeys(keys);
    await assertKeyFileReadable(armored, fingerprints);

    const lines = armored.split('\n');
    const truncated = [...lines.slice(0, 4), ...lines.slice(-3)].join('\n');
    await expect(assertKeyFileReadable(truncated, fingerprints)).rejects.toThrow(
      /would not be readable by gpg --dearmor.*refusing to publish/s,
    );

    const onlyFirst = keys.signing[0]!.armoredPublicKey;
    await expect(assertKeyFileReadable(onlyFirst, fingerprints)).rejects.toThrow(
      new RegExp(`missing: ${fingerprints[1]}`),
    );
  });
});

describeWithTools('release signatures checked by gpgv', ['gpg', 'gpgv'], () => {
  async function keyring(armoredPublic: string, name: string): Promise<string> {
    const out = path.join(tmp, `${name}.gpg`);
    await execa('gpg', ['--batch', '--yes', '--dearmor', '-o', out], { input: armoredPublic });
    return out;
  }

  async function gpgv(ring: string, ...files: string[]) {
    return execa('gpgv', ['--keyring', ring, ...files], { reject: false });
  }

  it('signs with both keys during a rotation; each key alone verifies', async () => {
    const keys = await loadReleaseKeys({
      env: {
        CERTAGENT_RELEASE_KEY: await makeKey('current'),
        CERTAGENT_RELEASE_KEY_NEXT: await makeKey('next'),
      },
    });
    const bundle = await exportPublicKeys(keys);
    expect((await openpgp.readKeys({ armoredKeys: bundle })).length).toBe(2);

    const data = path.join(tmp, 'Release');
    fs.writeFileSync(data, 'Origin: certagent\nSuite: bookworm\n');
    fs.writeFileSync(`${data}.gpg`, await signDetached(keys, fs.readFileSync(data)));
    fs.writeFileSync(path.join(tmp, 'InRelease'), await signCleartext(keys, 'Suite: x\n'));

    const both = await keyring(bundle, 'both');
    expect((await gpgv(both, `${data}.gpg`, data)).exitCode).toBe(0);
    expect((await gpgv(both, path.join(tmp, 'InRelease'))).exitCode).toBe(0);

    for (const [i, k] of keys.signing.entries()) {
      const ring = await keyring(k.armoredPublicKey, `only-${i}`);
      const res = await gpgv(ring, `${data}.gpg`, data);
      expect(res.stderr).toContain('Good signature');
    }
  });

  it('a changed file or a foreign key fails verification', async () => {
    const keys = await loadReleaseKeys({ env: { CERTAGENT_RELEASE_KEY: await makeKey('one') } });
    const other = await loadReleaseKeys({ env: { CERTAGENT_RELEASE_KEY: await makeKey('two') } });
    const data = path.join(tmp, 'manifest.json');
    fs.writeFileSync(data, '{"version":"1.0.0"}');
    fs.writeFileSync(`${data}.asc`, await signDetached(keys, fs.readFileSync(data)));

    const ring = await keyring(await exportPublicKeys(keys), 'one');
    const otherRing = await keyring(await exportPublicKeys(other), 'two');
    expect((await gpgv(ring, `${data}.asc`, data)).exitCode).toBe(0);
    expect((await gpgv(otherRing, `${data}.asc`, data)).exitCode).not.toBe(0);

    fs.writeFileSync(data, '{"version":"9.9.9"}');
    expect((await gpgv(ring, `${data}.asc`, data)).stderr).toMatch(/BAD signature/);
  });
});
