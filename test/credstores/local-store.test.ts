import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LocalStore, localStoreFile } from '../../agent/credstores/local-store.ts';
import { keyFilePath } from '../../agent/credstores/store-cipher.ts';
import { makeDeps } from './helpers.ts';

describe('local-store', () => {
  it('keeps secrets encrypted at rest with a 0600 key file', async () => {
    const { confDir } = makeDeps();
    const store = new LocalStore(confDir);
    expect(store.init()).toBe(true);
    store.setSecret('web1', { username: 'deploy', password: 'Local-Pa55-xyz' });

    const onDisk = fs.readFileSync(localStoreFile(confDir), 'utf8');
    expect(onDisk).not.toContain('Local-Pa55-xyz');
    expect(onDisk).not.toContain('deploy');
    expect(fs.statSync(keyFilePath(confDir)).mode & 0o777).toBe(0o600);
    expect(fs.statSync(localStoreFile(confDir)).mode & 0o777).toBe(0o600);
    expect(await new LocalStore(confDir).getCredential('web1')).toMatchObject({
      password: 'Local-Pa55-xyz',
    });
    expect(store.init()).toBe(false);
  });

  it('refuses a secret holding both a password and a key', () => {
    const { confDir } = makeDeps();
    const store = new LocalStore(confDir);
    store.init();
    expect(() =>
      store.setSecret('bad', { username: 'u', password: 'p', private_key_path: '/k' }),
    ).toThrow(/secret "bad" in credential store "local-store" holds both/);
  });

  it.each([
    [
      'a flipped byte',
      (s: string) => s.slice(0, -6) + (s.at(-6) === 'A' ? 'B' : 'A') + s.slice(-5),
    ],
    ['garbage', () => 'not a store at all'],
    ['an empty file', () => ''],
  ])('reports %s naming the file and leaves it untouched', (_t, damage) => {
    const { confDir } = makeDeps();
    const store = new LocalStore(confDir);
    store.init();
    store.setSecret('web1', { username: 'deploy', password: 'x' });
    const file = localStoreFile(confDir);
    const damaged = damage(fs.readFileSync(file, 'utf8').trim());
    fs.writeFileSync(file, damaged);

    expect(() => store.listSecrets()).toThrow(
      new RegExp(`local store ${file} cannot be decrypted`),
    );
    expect(() => store.init()).toThrow(/cannot be decrypted/);
    expect(fs.readFileSync(file, 'utf8')).toBe(damaged);
  });

  it('reports a missing store with the command that creates it', async () => {
    const { confDir } = makeDeps();
    await expect(new LocalStore(confDir).getCredential('x')).rejects.toThrow(
      /credstore init-local/,
    );
  });
});
