import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HostKeyPins } from '../../agent/connections/host-key-pins.ts';
import { SshConnection } from '../../agent/connections/ssh.ts';
import { installOnFileServer } from '../../agent/installers/file-installer.ts';
import { servedFingerprint } from '../../agent/installers/tls-confirm.ts';
import { discoverSites } from '../../agent/nodes/discover-sites.ts';
import { leafFingerprint } from '../../agent/nodes/fingerprint.ts';
import { serverControl } from '../../agent/nodes/server-control.ts';
import type { Site } from '../../agent/nodes/site.ts';
import { freePort, startApache, type TestApache } from '../support/apache.ts';
import { createTestUser, startSshd, type TestSshd, type TestUser } from '../support/sshd.ts';
import { describeWithTools } from '../support/tools.ts';
import { createOpensslCa, selfSigned, type OpensslCa } from './openssl-ca.ts';

const asRoot = process.getuid?.() === 0;
const tools = asRoot ? ['sshd', 'sudo', 'apache2', 'openssl'] : ['root'];

describeWithTools('installation over SSH with sudo on a real Apache', tools, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-ssh-apache-'));
  let sshd: TestSshd;
  let user: TestUser;
  let apache: TestApache;
  let ca: OpensslCa;
  let conn: SshConnection;
  let sites: Site[];
  const ports: number[] = [];

  beforeAll(async () => {
    const certs = path.join(dir, 'certs');
    fs.mkdirSync(certs, { mode: 0o700 });
    ca = await createOpensslCa(path.join(dir, 'ca'));
    const a = await selfSigned(certs, 'a.test');
    const b = await selfSigned(certs, 'b.test');
    fs.copyFileSync(path.join(dir, 'ca', 'ca.pem'), path.join(certs, 'chain.pem'));
    ports.push(await freePort(), await freePort());
    apache = await startApache(
      [
        { name: 'a.test', port: ports[0]!, certFile: a.cert, keyFile: a.key },
        {
          name: 'b.test',
          port: ports[1]!,
          certFile: b.cert,
          keyFile: b.key,
          chainFile: path.join(certs, 'chain.pem'),
        },
      ],
      path.join(dir, 'apache'),
    );
    sshd = await startSshd(path.join(dir, 'sshd'));
    user = await createTestUser(sshd);
    conn = await SshConnection.open({
      host: '127.0.0.1',
      port: sshd.port,
      credentials: { username: user.name, password: user.password },
      pins: new HostKeyPins(path.join(dir, 'conf', 'known-nodes.json')),
    });
    sites = await discoverSites(conn, {
      servers: ['apache'],
      commands: { apache: apache.command },
      sudo: true,
    });
  });

  afterAll(async () => {
    await conn?.close();
    await apache?.stop();
    await sshd?.stop();
    await user?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const install = (site: Site, control = serverControl('apache', apache.command)) =>
    installOnFileServer({
      conn,
      site,
      control,
      signer: ca,
      nodeHost: '127.0.0.1',
      sudo: true,
      confirmWaitMs: 5000,
    });
  const site = (name: string) => sites.find((s) => s.serverNames[0] === name)!;

  it(
    'discovers both vhosts through sudo, with ' + 'the chain file and served fingerprints',
    async () => {
      expect(sites).toHaveLength(2);
      expect(site('b.test').chainPath).toBe(path.join(dir, 'certs', 'chain.pem'));
      expect(site('a.test').chainPath).toBeUndefined();
      expect(site('a.test').fingerprint).toBe(
        await servedFingerprint('127.0.0.1', ports[0]!, 'a.test'),
      );
    },
  );

  it(
    'replaces the certificate of a vhost with ' + 'a chain file; key stays root-owned 0600',
    async () => {
      const b = site('b.test');
      const result = await install(b);
      expect(result.error).toBeUndefined();
      expect(await servedFingerprint('127.0.0.1', ports[1]!, 'b.test')).toBe(result.fingerprint);
      const key = fs.statSync(b.keyPath!);
      expect([key.mode & 0o777, key.uid, key.gid]).toEqual([0o600, 0, 0]);
      // Leaf alone in the certificate file, CA in the chain file.
      expect(fs.readFileSync(b.certPath!, 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
      expect(fs.readFileSync(b.chainPath!, 'utf8')).toBe(`${ca.certPem.trim()}\n`);
      expect(result.backups).toHaveLength(3);
    },
  );

  it('rolls back a broken configuration and keeps serving the old certificate', async () => {
    const a = site('a.test');
    const before = fs.readFileSync(a.certPath!, 'utf8');
    const broken = path.join(apache.root, 'sites', 'zz-broken.conf');
    fs.writeFileSync(broken, '<VirtualHost 127.0.0.1:1>\n  NoSuchDirective on\n</VirtualHost>\n');
    try {
      const result = await install(a);
      expect(result.error).toMatchObject({ step: 'config-test', rolledBack: true });
      expect(result.error!.message).toMatch(/NoSuchDirective/);
    } finally {
      fs.rmSync(broken);
    }
    expect(fs.readFileSync(a.certPath!, 'utf8')).toBe(before);
    expect(await servedFingerprint('127.0.0.1', ports[0]!, 'a.test')).toBe(leafFingerprint(before));
  });
});
