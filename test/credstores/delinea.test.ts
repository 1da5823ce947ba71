import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DelineaStore } from '../../agent/credstores/delinea.ts';
import { startFakeDelinea, type FakeDelinea } from '../fakes/delinea/server.ts';
import { definition, makeDeps } from './helpers.ts';

describe('delinea secret server store', () => {
  let ss: FakeDelinea;

  beforeAll(async () => {
    ss = await startFakeDelinea({
      username: 'svc-certagent',
      password: 'Ss-Pa55word',
      denied: [13],
      secrets: [
        {
          id: 11,
          name: 'web1',
          folderPath: '\\Servers\\Linux',
          items: [
            { slug: 'machine', fieldName: 'Machine', itemValue: 'web1' },
            { slug: 'username', fieldName: 'Username', itemValue: 'admin' },
            {
              slug: 'password',
              fieldName: 'Password',
              itemValue: 'Web1-Ss-Pa55',
              isPassword: true,
            },
          ],
        },
        {
          id: 12,
          name: 'keyed',
          folderPath: '\\Servers',
          items: [
            { slug: 'username', fieldName: 'Username', itemValue: 'root' },
            { slug: 'private-key-path', fieldName: 'Key path', itemValue: '/keys/id' },
            {
              slug: 'private-key-passphrase',
              fieldName: 'Passphrase',
              itemValue: 'pp',
              isPassword: true,
            },
          ],
        },
        {
          id: 15,
          name: 'ssh-key',
          folderPath: '\\Servers',
          items: [
            { slug: 'username', fieldName: 'Username', itemValue: 'ops' },
            {
              slug: 'private-key',
              fieldName: 'Private Key',
              itemValue: '',
              isFile: true,
              fileContent:
                '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
            },
            {
              slug: 'private-key-passphrase',
              fieldName: 'Passphrase',
              itemValue: 'kp',
              isPassword: true,
            },
          ],
        },
        { id: 13, name: 'secret-of-others', folderPath: '\\HR', items: [] },
        {
          id: 14,
          name: 'both',
          folderPath: '\\Servers',
          items: [
            { slug: 'username', fieldName: 'Username', itemValue: 'u' },
            { slug: 'password', fieldName: 'Password', itemValue: 'p' },
            { slug: 'private-key-path', fieldName: 'Key path', itemValue: '/k' },
          ],
        },
      ],
    });
  });
  afterAll(() => ss.close());

  const store = (password = 'Ss-Pa55word', now?: () => number) =>
    new DelineaStore(
      definition('delinea', { url: ss.url, username: 'svc-certagent' }, { password }),
      makeDeps(),
      now,
    );

  it('reads a secret by id and maps its field slugs', async () => {
    const s = store();
    expect(await s.getCredential('11')).toMatchObject({
      username: 'admin',
      password: 'Web1-Ss-Pa55',
    });
    expect(await s.getCredential('12')).toMatchObject({
      username: 'root',
      privateKeyPath: '/keys/id',
      passPhrase: 'pp',
    });
    await s.close();
  });

  it('writes an attached private key to a 0600 file and returns its path', async () => {
    const deps = makeDeps();
    const s = new DelineaStore(
      definition(
        'delinea',
        { url: ss.url, username: 'svc-certagent' },
        { password: 'Ss-Pa55word' },
      ),
      deps,
    );
    const cred = await s.getCredential('15');
    expect(cred).toMatchObject({ username: 'ops', passPhrase: 'kp' });
    expect(path.dirname(cred.privateKeyPath!)).toBe(path.join(deps.confDir, 'keys'));
    expect(fs.readFileSync(cred.privateKeyPath!, 'utf8')).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(fs.statSync(cred.privateKeyPath!).mode & 0o777).toBe(0o600);
    expect(ss.requests.at(-1)).toBe('GET /api/v1/secrets/15/fields/private-key');
    await s.close();
  });

  it('reads a secret by folder path and name', async () => {
    const s = store();
    expect((await s.getCredential('/Servers/Linux/web1')).username).toBe('admin');
    expect(ss.requests.at(-1)).toBe('GET /api/v1/secrets/0?secretPath=%5CServers%5CLinux%5Cweb1');
    await s.close();
  });

  it(
    'refreshes the token once it is near expiry, ' + 'and logs in again when refresh is refused',
    async () => {
      let clock = 0;
      const s = store(undefined, () => clock);
      const before = ss.grants.length;
      await s.getCredential('11');
      clock += 1200 * 1000;
      await s.getCredential('11');
      expect(ss.grants.slice(before)).toEqual(['password', 'refresh_token']);

      ss.revokeRefreshTokens();
      clock += 1200 * 1000;
      await s.getCredential('11');
      expect(ss.grants.slice(before)).toEqual([
        'password',
        'refresh_token',
        'refresh_token',
        'password',
      ]);
      await s.close();
    },
  );

  it('recovers when the access token was invalidated early', async () => {
    const s = store();
    await s.getCredential('11');
    ss.expireTokens();
    expect((await s.getCredential('11')).username).toBe('admin');
    await s.close();
  });

  it.each([
    ['a denied secret', '13', /HTTP 400, API_AccessDenied: Access Denied/],
    ['an unknown secret', '99', /HTTP 400, API_AccessDenied/],
    ['a secret with password and key', '14', /"14".*both "password" and "private_key_path"/],
  ])('explains %s', async (_t, ref, message) => {
    const s = store();
    await expect(s.getCredential(ref)).rejects.toThrow(message);
    await s.close();
  });

  it('explains a wrong store password without echoing it', async () => {
    const s = store('Not-the-Pa55');
    const err = await s.getCredential('11').catch((e: Error) => e);
    expect(String(err)).toMatch(/OAuth2 login failed.*invalid_grant.*user name and password/);
    expect(String(err)).not.toContain('Not-the-Pa55');
    await s.close();
  });
});
