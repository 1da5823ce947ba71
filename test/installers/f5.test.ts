import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { F5Client } from '../../agent/installers/f5-client.ts';
import { installOnF5 } from '../../agent/installers/f5-installer.ts';
import type { CertificateSigner } from '../../agent/installers/signer.ts';
import { discoverF5Sites, parseF5Destination } from '../../agent/nodes/f5-sites.ts';
import { leafFingerprint } from '../../agent/nodes/fingerprint.ts';
import { startFakeF5, type FakeF5 } from '../fakes/f5/server.ts';
import { describeWithTools } from '../support/tools.ts';
import { createOpensslCa, selfSigned, type OpensslCa } from './openssl-ca.ts';

const PASSWORD = 'f5-Adm1n-secret';

describeWithTools('F5 BIG-IP installation over iControl REST (fake)', ['openssl'], () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-f5-'));
  let f5: FakeF5;
  let ca: OpensslCa;
  let oldPem: string;

  beforeAll(async () => {
    ca = await createOpensslCa(path.join(dir, 'ca'));
    const old = await selfSigned(dir, 'shop.example.com');
    oldPem = fs.readFileSync(old.cert, 'utf8');
    f5 = await startFakeF5(dir, {
      users: { admin: PASSWORD },
      certs: new Map([['/Common/shop.crt', oldPem]]),
      keys: new Map([['/Common/shop.key', fs.readFileSync(old.key, 'utf8')]]),
      profiles: new Map([
        [
          '/Common/shop-ssl',
          {
            certKeyChain: [{ name: 'default', cert: '/Common/shop.crt', key: '/Common/shop.key' }],
          },
        ],
      ]),
      virtuals: [
        { name: 'vs_shop', destination: '/Common/10.0.0.10:443', profile: '/Common/shop-ssl' },
      ],
    });
  });

  afterAll(async () => {
    await f5?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const client = async (password = PASSWORD) => {
    const c = new F5Client({
      host: '127.0.0.1',
      port: f5.port,
      ca: f5.caPem,
      credentials: { username: 'admin', password },
    });
    await c.login();
    return c;
  };
  const subject = { commonName: 'shop.example.com', altNames: ['shop.example.com'] };

  it(
    'discovers the client-SSL profile, its ' + 'virtual server and the served fingerprint',
    async () => {
      const c = await client();
      try {
        const sites = await discoverF5Sites(c);
        expect(sites).toEqual([
          expect.objectContaining({
            id: 'f5:/Common/shop-ssl:443',
            listen: [{ address: '10.0.0.10', port: 443 }],
            certPath: '/Common/shop.crt',
            fingerprint: leafFingerprint(oldPem),
          }),
        ]);
      } finally {
        await c.close();
      }
    },
  );

  it('installs key and certificate under new names and points the profile at them', async () => {
    const c = await client();
    const [site] = await discoverF5Sites(c);
    const result = await installOnF5({
      client: c,
      site: site!,
      signer: ca,
      subject,
      now: new Date('2026-12-04T10:00:00Z'),
    });
    await c.close();

    expect(result.error).toBeUndefined();
    expect(result.status).toBe('installed');
    const chain = f5.state.profiles.get('/Common/shop-ssl')!.certKeyChain[0]!;
    expect(chain.cert).toBe('/Common/certagent-shop.example.com-20261204T100000Z.crt');
    expect(leafFingerprint(f5.state.certs.get(chain.cert!)!)).toBe(result.fingerprint);
    // The old objects stay on the box as the backup.
    expect(f5.state.certs.get('/Common/shop.crt')).toBe(oldPem);
    // The password travels in the login body only; the token is revoked at close.
    const leaks = f5.log.filter(
      (r) => r.path !== '/mgmt/shared/authn/login' && JSON.stringify(r).includes(PASSWORD),
    );
    expect(leaks).toEqual([]);
    expect(f5.state.tokens.size).toBe(0);
  });

  it('keeps the profile when the BIG-IP refuses the change, and says why', async () => {
    const c = await client();
    const [site] = await discoverF5Sites(c);
    const before = structuredClone(f5.state.profiles.get('/Common/shop-ssl'));
    f5.state.failNextPatch = true;
    const result = await installOnF5({ client: c, site: site!, signer: ca, subject });
    await c.close();
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ step: 'reload' });
    expect(result.error!.message).toMatch(/HTTP 400 01071ac9:3: .*locked/);
    expect(f5.state.profiles.get('/Common/shop-ssl')).toEqual(before);
  });

  it('refuses a certificate from the CA that does not match the generated key', async () => {
    const c = await client();
    const [site] = await discoverF5Sites(c);
    const other = await selfSigned(dir, 'evil.example');
    const tampering: CertificateSigner = {
      sign: async () => ({ certificatePem: fs.readFileSync(other.cert, 'utf8'), chainPem: [] }),
    };
    const before = structuredClone(f5.state.profiles.get('/Common/shop-ssl'));
    const result = await installOnF5({ client: c, site: site!, signer: tampering, subject });
    await c.close();
    expect(result.error?.message).toMatch(/key and certificate do not match/);
    expect(f5.state.profiles.get('/Common/shop-ssl')).toEqual(before);
  });

  it('reports a refused login with HTTP 401 and no password', async () => {
    const err = await client('wrong-Pa55').catch((e) => e);
    expect(err.code).toBe('f5-auth-failed');
    expect(err.message).toContain('HTTP 401 Authentication failed.');
    expect(err.message).not.toContain('wrong-Pa55');
  });

  it('refuses a management certificate it was not told to trust', async () => {
    const c = new F5Client({
      host: '127.0.0.1',
      port: f5.port,
      credentials: { username: 'admin', password: PASSWORD },
    });
    await expect(c.login()).rejects.toMatchObject({ code: 'f5-unreachable' });
    await c.close();
  });

  it.each([
    ['/Common/10.0.0.10:443', { address: '10.0.0.10', port: 443 }],
    ['/Common/2001:db8::5.8443', { address: '2001:db8::5', port: 8443 }],
    ['/Part/10.1.1.1%2:443', { address: '10.1.1.1', port: 443 }],
  ])('reads the virtual destination %s', (dest, wanted) => {
    expect(parseF5Destination(dest)).toEqual(wanted);
  });
});
