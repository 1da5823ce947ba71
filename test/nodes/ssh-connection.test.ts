import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { main } from '../../agent/cli/main.ts';
import { HostKeyPins } from '../../agent/connections/host-key-pins.ts';
import { SshConnection } from '../../agent/connections/ssh.ts';
import { createTestUser, startSshd, type TestSshd, type TestUser } from '../support/sshd.ts';
import { describeWithTools } from '../support/tools.ts';

const asRoot = process.getuid?.() === 0;

describeWithTools(
  'SSH connection to a real sshd',
  asRoot ? ['sshd', 'sudo', 'useradd'] : ['root'],
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-ssh-'));
    const pins = new HostKeyPins(path.join(dir, 'conf', 'known-nodes.json'));
    let sshd: TestSshd;
    let user: TestUser;

    beforeAll(async () => {
      sshd = await startSshd(path.join(dir, 'sshd'));
      user = await createTestUser(sshd);
    });

    afterAll(async () => {
      await sshd?.stop();
      await user?.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const open = (credentials: Parameters<typeof SshConnection.open>[0]['credentials']) =>
      SshConnection.open({ host: '127.0.0.1', port: sshd.port, credentials, pins });

    it('logs in with a password and pins the host key on first use', async () => {
      const conn = await open({ username: user.name, password: user.password });
      try {
        const r = await conn.exec(['id', '-un']);
        expect(r.stdout.trim()).toBe(user.name);
        expect(pins.lookup('127.0.0.1', sshd.port)).toBe(await sshd.hostKeyFingerprint());
      } finally {
        await conn.close();
      }
    });

    it(
      'runs commands and writes root-owned files ' + 'through sudo with the password on stdin',
      async () => {
        const conn = await open({ username: user.name, password: user.password });
        const target = path.join(dir, 'root-only', 'key.pem');
        fs.mkdirSync(path.dirname(target), { mode: 0o700 });
        try {
          expect((await conn.exec(['id', '-u'], { sudo: true })).stdout.trim()).toBe('0');
          await conn.writeFile(target, "it's secret\n", {
            mode: 0o600,
            owner: { uid: 0, gid: 0 },
            sudo: true,
          });
          expect(fs.readFileSync(target, 'utf8')).toBe("it's secret\n");
          expect(fs.statSync(target).mode & 0o777).toBe(0o600);
          expect((await conn.readFile(target, { sudo: true })).toString()).toBe("it's secret\n");
          await expect(conn.readFile(target)).rejects.toThrow(/cannot read .*key\.pem/);
          expect(await conn.stat(path.join(dir, 'missing'), { sudo: true })).toBeNull();
        } finally {
          await conn.close();
        }
      },
    );

    it('refuses a wrong password without echoing it', async () => {
      const err = await open({ username: user.name, password: 'wrong-pass-123' }).catch((e) => e);
      expect(err.code).toBe('ssh-auth-failed');
      expect(err.message).toContain(user.name);
      expect(err.message).not.toContain('wrong-pass-123');
    });

    it('logs in with a private key and its pass phrase', async () => {
      const conn = await open({
        username: user.name,
        privateKeyPath: user.keyPath,
        passPhrase: user.passPhrase,
      });
      try {
        expect((await conn.exec(['id', '-un'])).stdout.trim()).toBe(user.name);
        // A key login has no password to give sudo, and this user has no NOPASSWD rule.
        await expect(conn.exec(['true'], { sudo: true })).rejects.toMatchObject({
          code: 'ssh-sudo-needs-password',
        });
      } finally {
        await conn.close();
      }
    });

    it('refuses a key whose pass phrase is wrong', async () => {
      const err = await open({
        username: user.name,
        privateKeyPath: user.keyPath,
        passPhrase: 'nope',
      }).catch((e) => e);
      expect(err.code).toBe('ssh-key-invalid');
      expect(err.message).not.toContain('nope');
    });

    it('refuses a changed host key, naming both fingerprints', async () => {
      const pinned = pins.lookup('127.0.0.1', sshd.port);
      await sshd.rotateHostKey();
      const offered = await sshd.hostKeyFingerprint();
      expect(offered).not.toBe(pinned);

      const err = await open({ username: user.name, password: user.password }).catch((e) => e);
      expect(err.code).toBe('ssh-host-key-changed');
      expect(err.message).toContain(pinned);
      expect(err.message).toContain(offered);
      expect(pins.lookup('127.0.0.1', sshd.port)).toBe(pinned);
    });

    it(
      'accepts the new key only after the operator ' + 'forgets the old one with host-keys forget',
      async () => {
        const run = async (args: string[]) => {
          const stdout = new PassThrough();
          const stderr = new PassThrough();
          let out = '';
          let err = '';
          stdout.on('data', (d: Buffer) => (out += d));
          stderr.on('data', (d: Buffer) => (err += d));
          const code = await main(['--base-dir', dir, ...args], {
            programName: 'certagent',
            io: { stdout, stderr },
          });
          return { code, out, err };
        };
        const pinned = pins.lookup('127.0.0.1', sshd.port)!;
        expect((await run(['host-keys', 'list'])).out).toContain(
          `127.0.0.1:${sshd.port}  ${pinned}`,
        );
        expect(await run(['host-keys', 'forget', '127.0.0.1:1'])).toMatchObject({ code: 2 });
        const forgot = await run(['host-keys', 'forget', `127.0.0.1:${sshd.port}`]);
        expect(forgot).toMatchObject({
          code: 0,
          out: `forgot ${pinned} for 127.0.0.1:${sshd.port}\n`,
        });

        const conn = await open({ username: user.name, password: user.password });
        await conn.close();
        expect(pins.lookup('127.0.0.1', sshd.port)).toBe(await sshd.hostKeyFingerprint());
      },
    );
  },
);
