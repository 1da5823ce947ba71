import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WinRmConnection, type WinRmTarget } from '../../agent/connections/winrm.ts';
import { installOnIis } from '../../agent/installers/iis-installer.ts';
import type { CertificateSigner } from '../../agent/installers/signer.ts';
import { IIS_DISCOVER_SCRIPT, iisSites } from '../../agent/nodes/iis-bindings.ts';
import { startFakeWinRm, type FakeWinRm } from '../fakes/winrm/server.ts';
import { describeWithTools } from '../support/tools.ts';
import { createOpensslCa, selfSigned, type OpensslCa } from './openssl-ca.ts';

const PASSWORD = 'Win-P@ss-1234';

/** The machine the fake stands for: IIS bindings and LocalMachine\My, keyed by thumbprint. */
interface FakeIis {
  store: Map<string, string>;
  pendingKeys: crypto.KeyObject[];
  bindings: Array<{ site: string; bindingInformation: string; certificateHash: string }>;
}

const thumbprint = (pem: string) => new X509Certificate(pem).fingerprint.replace(/:/g, '');
const sha256 = (pem: string) =>
  new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
const params = (script: string) =>
  JSON.parse(/^\$p = '(.*)' \| ConvertFrom-Json$/m.exec(script)![1]!.replace(/''/g, "'"));

// Emulates what the installer's PowerShell does on a real node, by the script's marker.
function emulateIis(iis: FakeIis, dir: string) {
  return async (script: string) => {
    if (script.includes('# certagent:iis-discover')) {
      const out = iis.bindings.map((b) => ({
        ...b,
        certificateStoreName: 'My',
        sslFlags: 1,
        sha256: sha256(iis.store.get(b.certificateHash)!),
      }));
      return { stdout: `${JSON.stringify(out)}\r\n` };
    }
    if (script.includes('# certagent:iis-request')) {
      const p = params(script);
      const key = path.join(dir, `pending-${iis.pendingKeys.length}.key`);
      const r = await execa('openssl', [
        'req',
        '-new',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-subj',
        `/CN=${p.commonName}`,
      ]);
      iis.pendingKeys.push(crypto.createPrivateKey(fs.readFileSync(key)));
      return { stdout: r.stdout };
    }
    if (script.includes('# certagent:iis-bind')) {
      const p = params(script);
      let thumb = p.thumbprint as string | null;
      if (p.certPem) {
        const pub = new X509Certificate(p.certPem).publicKey.export({
          type: 'spki',
          format: 'der',
        });
        const key = iis.pendingKeys.find((k) =>
          crypto.createPublicKey(k).export({ type: 'spki', format: 'der' }).equals(pub),
        );
        if (!key)
          return {
            stdout: '',
            stderr:
              'certreq -accept failed with -2146885628\r\nCannot find object or property. ' +
              '0x80092004',
            exitCode: 1,
          };
        thumb = thumbprint(p.certPem);
        iis.store.set(thumb, p.certPem);
      }
      const b = iis.bindings.find(
        (x) => x.site === p.site && x.bindingInformation === p.bindingInformation,
      );
      if (!b || !thumb || !iis.store.has(thumb))
        return { stdout: '', stderr: 'binding not found', exitCode: 1 };
      b.certificateHash = thumb;
      return { stdout: JSON.stringify({ thumbprint: thumb }) };
    }
    if (script.includes('# certagent:crash')) throw new Error('the emulated node crashed');
    return {
      stdout: 'hello from fake\r\n',
      stderr: '',
      exitCode: script.includes('exit 3') ? 3 : 0,
    };
  };
}

describeWithTools('WinRM (fake WS-Man listener) and IIS installation', ['openssl'], () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-winrm-'));
  const iis: FakeIis = { store: new Map(), pendingKeys: [], bindings: [] };
  let winrm: FakeWinRm;
  let ca: OpensslCa;
  let oldPem: string;

  beforeAll(async () => {
    ca = await createOpensslCa(path.join(dir, 'ca'));
    oldPem = fs.readFileSync((await selfSigned(dir, 'shop.example.com')).cert, 'utf8');
    iis.store.set(thumbprint(oldPem), oldPem);
    iis.bindings.push({
      site: 'Default Web Site',
      bindingInformation: '*:443:shop.example.com',
      certificateHash: thumbprint(oldPem),
    });
    winrm = await startFakeWinRm({
      auth: ['ntlm', 'basic'],
      users: { Administrator: PASSWORD },
      domain: 'CORP',
      powershell: emulateIis(iis, dir),
    });
  });

  afterAll(async () => {
    await winrm?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const connect = (
    auth: WinRmTarget['auth'],
    password = PASSWORD,
    username = 'CORP\\Administrator',
  ) =>
    new WinRmConnection({
      host: '127.0.0.1',
      port: winrm.port,
      auth,
      credentials: { username, password },
    });

  it.each(['ntlm', 'basic'] as const)(
    'runs PowerShell over %s: shell created, output received, shell deleted',
    async (auth) => {
      const conn = connect(
        auth,
        PASSWORD,
        auth === 'basic' ? 'Administrator' : 'CORP\\Administrator',
      );
      try {
        const r = await conn.runPowerShell('Write-Output "hello"; exit 3');
        expect(r).toEqual({ exitCode: 3, stdout: 'hello from fake\r\n', stderr: '' });
        expect(winrm.scripts.at(-1)).toContain('Write-Output "hello"');
        expect(winrm.openShells()).toBe(0);
      } finally {
        await conn.close();
      }
    },
  );

  it.each(['ntlm', 'basic'] as const)('refuses a wrong password over %s', async (auth) => {
    const conn = connect(auth, 'not-the-password');
    await expect(conn.runPowerShell('hostname')).rejects.toMatchObject({
      code: 'winrm-auth-failed',
    });
    await conn.close();
  });

  it('reports a WS-Man fault with its code instead of hanging', async () => {
    const conn = connect('ntlm');
    const err = await conn.runPowerShell('# certagent:crash').catch((e) => e);
    await conn.close();
    expect(err.code).toBe('winrm-fault');
    expect(err.message).toMatch(/fault 2150858778: the emulated node crashed/);
    expect(winrm.openShells()).toBe(0);
  });

  it('never puts the NTLM password on the wire', () => {
    expect(winrm.requests.some((r) => r.includes(PASSWORD))).toBe(false);
  });

  it('reads the IIS bindings with their fingerprints', async () => {
    const conn = connect('ntlm');
    const sites = iisSites((await conn.runPowerShell(IIS_DISCOVER_SCRIPT)).stdout);
    await conn.close();
    expect(sites).toEqual([
      expect.objectContaining({
        id: 'iis:shop.example.com:443',
        listen: [{ address: '*', port: 443 }],
        fingerprint: sha256(oldPem),
        store: { name: 'My', thumbprint: thumbprint(oldPem) },
      }),
    ]);
  });

  it('installs: CSR made on the node, certificate accepted and bound, read back', async () => {
    const conn = connect('ntlm');
    const [site] = iisSites((await conn.runPowerShell(IIS_DISCOVER_SCRIPT)).stdout);
    const result = await installOnIis({
      conn,
      site: site!,
      signer: ca,
      subject: { commonName: 'shop.example.com', altNames: ['shop.example.com'] },
    });
    await conn.close();
    expect(result.error).toBeUndefined();
    expect(sha256(iis.store.get(iis.bindings[0]!.certificateHash)!)).toBe(result.fingerprint);
    expect(result.previousFingerprint).toBe(sha256(oldPem));
    // The key stayed on the node: only a CSR reached the CA.
    expect(ca.requests.at(-1)).toMatch(/BEGIN CERTIFICATE REQUEST/);
    expect(winrm.requests.some((r) => r.includes('PRIVATE KEY'))).toBe(false);
  });

  it('keeps the binding when the node cannot accept a certificate for another key', async () => {
    const conn = connect('ntlm');
    const [site] = iisSites((await conn.runPowerShell(IIS_DISCOVER_SCRIPT)).stdout);
    const before = iis.bindings[0]!.certificateHash;
    const other = fs.readFileSync((await selfSigned(dir, 'other.example')).cert, 'utf8');
    const tampering: CertificateSigner = {
      sign: async () => ({ certificatePem: other, chainPem: [] }),
    };
    const result = await installOnIis({
      conn,
      site: site!,
      signer: tampering,
      subject: { commonName: 'shop.example.com', altNames: [] },
    });
    await conn.close();
    expect(result.error).toMatchObject({ step: 'place', rolledBack: true });
    expect(result.error!.message).toContain('0x80092004');
    expect(iis.bindings[0]!.certificateHash).toBe(before);
  });
});

describeWithTools('WinRM over HTTPS (5986 listener, fake)', ['openssl'], () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-winrms-'));
  let winrm: FakeWinRm;
  let certPem: string;

  beforeAll(async () => {
    const pair = await selfSigned(dir, 'winhost');
    await execa('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      pair.key,
      '-out',
      pair.cert,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '2',
    ]);
    certPem = fs.readFileSync(pair.cert, 'utf8');
    winrm = await startFakeWinRm({
      auth: ['basic'],
      users: { Administrator: PASSWORD },
      powershell: async () => ({ stdout: 'over tls\r\n' }),
      tls: { key: fs.readFileSync(pair.key, 'utf8'), cert: certPem },
    });
  });

  afterAll(async () => {
    await winrm?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const connect = (ca?: string) =>
    new WinRmConnection({
      host: '127.0.0.1',
      port: winrm.port,
      https: true,
      auth: 'basic',
      ca,
      credentials: { username: 'Administrator', password: PASSWORD },
    });

  it('runs PowerShell with Basic over TLS when the listener certificate is trusted', async () => {
    const conn = connect(certPem);
    expect((await conn.runPowerShell('hostname')).stdout).toBe('over tls\r\n');
    await conn.close();
  });

  it('refuses a listener whose certificate it was not told to trust', async () => {
    const conn = connect();
    await expect(conn.runPowerShell('hostname')).rejects.toMatchObject({
      code: 'winrm-unreachable',
    });
    await conn.close();
  });
});
