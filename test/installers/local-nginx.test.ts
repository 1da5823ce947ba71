import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalConnection } from '../../agent/connections/local.ts';
import { installOnFileServer } from '../../agent/installers/file-installer.ts';
import { servedFingerprint } from '../../agent/installers/tls-confirm.ts';
import { discoverSites } from '../../agent/nodes/discover-sites.ts';
import { leafFingerprint } from '../../agent/nodes/fingerprint.ts';
import { serverControl } from '../../agent/nodes/server-control.ts';
import type { Site } from '../../agent/nodes/site.ts';
import { freePort } from '../support/apache.ts';
import { describeWithTools } from '../support/tools.ts';
import { createOpensslCa, selfSigned, type OpensslCa } from './openssl-ca.ts';
import { startNginx, type TestNginx } from './test-nginx.ts';

describeWithTools('local installation on a test nginx', ['nginx', 'openssl'], () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-local-nginx-'));
  const conn = new LocalConnection();
  let nginx: TestNginx;
  let ca: OpensslCa;
  let sites: Site[];
  const ports: number[] = [];

  beforeAll(async () => {
    ca = await createOpensslCa(path.join(dir, 'ca'));
    ports.push(await freePort(), await freePort());
    const a = await selfSigned(dir, 'a.test');
    const b = await selfSigned(dir, 'b.test');
    nginx = await startNginx(path.join(dir, 'nginx'), [
      { name: 'a.test', port: ports[0]!, ...a },
      { name: 'b.test', port: ports[1]!, ...b },
    ]);
    sites = await discoverSites(conn, { servers: ['nginx'], commands: { nginx: nginx.command } });
  });

  afterAll(async () => {
    await nginx?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const control = () => serverControl('nginx', nginx.command);
  const site = (name: string) => sites.find((s) => s.serverNames[0] === name)!;

  it('discovers both sites of the symlinked file with their served fingerprints', async () => {
    expect(sites.map((s) => s.id).sort()).toEqual([
      `nginx:a.test:${ports[0]}`,
      `nginx:b.test:${ports[1]}`,
    ]);
    const a = site('a.test');
    expect(a.configFile).toBe(path.join(nginx.dir, 'sites-available', 'sites.conf'));
    expect(a.keyPath).toBe(path.join(dir, 'a.test.key'));
    expect(a.fingerprint).toBe(await servedFingerprint('127.0.0.1', ports[0]!, 'a.test'));
  });

  it('installs a new certificate: served, key 0600, old files backed up', async () => {
    const a = site('a.test');
    const oldCert = fs.readFileSync(a.certPath!, 'utf8');
    const result = await installOnFileServer({
      conn,
      site: a,
      control: control(),
      signer: ca,
      nodeHost: '127.0.0.1',
    });

    expect(result.error).toBeUndefined();
    expect(result.status).toBe('installed');
    expect(result.fingerprint).not.toBe(a.fingerprint);
    expect(await servedFingerprint('127.0.0.1', ports[0]!, 'a.test')).toBe(result.fingerprint);
    expect(fs.statSync(a.keyPath!).mode & 0o777).toBe(0o600);
    const certBackup = result.backups.find((b) => b.startsWith(a.certPath!))!;
    expect(fs.readFileSync(certBackup, 'utf8')).toBe(oldCert);
    // nginx's ssl_certificate holds the full chain: leaf then CA.
    expect(fs.readFileSync(a.certPath!, 'utf8')).toContain(ca.certPem.trim());
    expect(ca.requests.every((r) => !r.includes('PRIVATE KEY'))).toBe(true);
  });

  it(
    'rolls back when the configuration test ' + 'fails, and the old certificate is still served',
    async () => {
      const b = site('b.test');
      const before = fs.readFileSync(b.certPath!, 'utf8');
      const broken = path.join(nginx.dir, 'sites-enabled', 'zz-broken.conf');
      fs.writeFileSync(broken, 'server { listen 127.0.0.1:1 ssl; this_is_not_a_directive; }\n');
      try {
        const result = await installOnFileServer({
          conn,
          site: b,
          control: control(),
          signer: ca,
          nodeHost: '127.0.0.1',
        });
        expect(result.status).toBe('failed');
        expect(result.error).toMatchObject({ step: 'config-test', rolledBack: true });
        expect(result.error!.message).toMatch(/this_is_not_a_directive/);
      } finally {
        fs.rmSync(broken);
      }
      expect(fs.readFileSync(b.certPath!, 'utf8')).toBe(before);
      expect(await servedFingerprint('127.0.0.1', ports[1]!, 'b.test')).toBe(
        leafFingerprint(before),
      );
    },
  );

  it('rolls back when the server never picks up the new certificate', async () => {
    const b = site('b.test');
    const before = fs.readFileSync(b.certPath!, 'utf8');
    const noReload = { ...control(), reload: ['-t'] };
    const result = await installOnFileServer({
      conn,
      site: b,
      control: noReload,
      signer: ca,
      nodeHost: '127.0.0.1',
      confirmWaitMs: 2000,
    });
    expect(result.error).toMatchObject({ step: 'confirm', rolledBack: true });
    expect(result.error!.message).toContain(leafFingerprint(before)!);
    expect(fs.readFileSync(b.certPath!, 'utf8')).toBe(before);
  });
});
