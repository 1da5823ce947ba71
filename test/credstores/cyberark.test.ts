import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CyberArkStore } from '../../agent/credstores/cyberark.ts';
import { createTestPki, type TestPki } from '../fakes/cyberark/pki.ts';
import { startFakeCyberArk, type FakeCyberArk } from '../fakes/cyberark/server.ts';
import { describeWithTools } from '../support/tools.ts';
import { definition, makeDeps } from './helpers.ts';

describeWithTools('cyberark central credential provider store', ['openssl'], () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-ccp-'));
  let pki: TestPki;
  let ccp: FakeCyberArk;

  beforeAll(async () => {
    pki = await createTestPki(dir);
    ccp = await startFakeCyberArk({
      tls: {
        key: fs.readFileSync(pki.serverKey, 'utf8'),
        cert: fs.readFileSync(pki.serverCert, 'utf8'),
        ca: fs.readFileSync(pki.caCert, 'utf8'),
      },
      appId: 'certagent',
      clientCertCn: 'certagent-client',
      accounts: [
        {
          Safe: 'Linux',
          Folder: 'Root',
          Name: 'web1-root',
          UserName: 'root',
          Content: 'Ccp-Pa55-web1',
        },
        {
          Safe: 'Linux',
          Folder: 'Keys',
          Name: 'web1-ssh',
          UserName: 'ops',
          Content: '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n',
        },
        {
          Safe: 'Linux',
          Folder: 'Root',
          Name: 'dup-a',
          UserName: 'dup',
          Content: 'a',
          Address: 'dup',
        },
        {
          Safe: 'Linux',
          Folder: 'Root',
          Name: 'dup-b',
          UserName: 'dup',
          Content: 'b',
          Address: 'dup',
        },
      ],
    });
  });
  afterAll(async () => {
    await ccp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const store = (
    settings: Record<string, string> = {},
    p12 = pki.clientP12,
    password = pki.p12Password,
  ) =>
    new CyberArkStore(
      definition(
        'cyberark',
        {
          url: ccp.url,
          app_id: 'certagent',
          ca_file: pki.caCert,
          client_p12: p12,
          safe: 'Linux',
          folder: 'Root',
          ...settings,
        },
        { p12_password: password },
      ),
      makeDeps(),
    );

  it('fetches an account by object name with the client certificate', async () => {
    const s = store();
    expect(await s.getCredential('web1-root')).toMatchObject({
      username: 'root',
      password: 'Ccp-Pa55-web1',
    });
    expect(ccp.requests.at(-1)).toMatchObject({
      query: { AppID: 'certagent', Safe: 'Linux', Folder: 'Root', Object: 'web1-root' },
      clientCn: 'certagent-client',
    });
    await s.close();
  });

  it('turns an SSH-key account into a 0600 key file', async () => {
    const s = store();
    const cred = await s.getCredential('Safe=Linux;Folder=Keys;Object=web1-ssh');
    expect(cred).toMatchObject({ username: 'ops', password: undefined });
    expect(fs.readFileSync(cred.privateKeyPath!, 'utf8')).toContain('BEGIN RSA PRIVATE KEY');
    expect(fs.statSync(cred.privateKeyPath!).mode & 0o777).toBe(0o600);
    await s.close();
  });

  it('passes Key=Value references and Query= through', async () => {
    const s = store();
    await s.getCredential('Safe=Linux;Folder=Root;Object=web1-root');
    expect(ccp.requests.at(-1)?.query.Object).toBe('web1-root');
    await s.getCredential('Query=Safe=Linux;Object=web1-root');
    expect(ccp.requests.at(-1)?.query.Query).toBe('Safe=Linux;Object=web1-root');
    await s.close();
  });

  it.each([
    ['unknown object', {}, 'nope', /APPAP004E.*no account matches/],
    ['several matches', {}, 'UserName=dup;Safe=Linux', /APPAP227E.*several accounts/],
    [
      'wrong AppID',
      { app_id: 'someone-else' },
      'web1-root',
      /AppID someone-else.*APPAP306E.*AppID exists/,
    ],
    ['bad reference', {}, 'Colour=blue', /"Colour=blue" is not Key=Value/],
  ])('explains %s', async (_title, settings, ref, message) => {
    const s = store(settings);
    await expect(s.getCredential(ref)).rejects.toThrow(message);
    await s.close();
  });

  it('explains a client certificate from an untrusted CA', async () => {
    const s = store({}, pki.strangerP12);
    await expect(s.getCredential('web1-root')).rejects.toThrow(/APPAP282E.*client certificate/);
    await s.close();
  });

  it('rejects a wrong .p12 password without showing it', async () => {
    const err = await Promise.resolve()
      .then(async () => {
        const s = store({}, pki.clientP12, 'Wrong-p12-pass');
        await s.getCredential('web1-root');
      })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err)).not.toContain('Wrong-p12-pass');
  });

  it('reports an unreachable provider', async () => {
    const s = store({ url: 'https://127.0.0.1:1' });
    await expect(s.check()).rejects.toThrow(
      /"cyberark-test" at https:\/\/127\.0\.0\.1:1 cannot be reached/,
    );
    await s.close();
  });
});
