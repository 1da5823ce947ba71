import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { freePort, waitForPort } from './apache.ts';

/** An sshd the test started on a loopback port, with its own config and host keys. */
export interface TestSshd {
  port: number;
  dir: string;
  keysDir: string;
  /** The public host key as OpenSSH fingerprints it (`SHA256:...`). */
  hostKeyFingerprint(): Promise<string>;
  /** Replaces the host key and restarts on the same port, as a reinstalled node would. */
  rotateHostKey(): Promise<void>;
  stop(): Promise<void>;
}

/** A throwaway login on this machine (needs root: useradd, chpasswd). */
export interface TestUser {
  name: string;
  password: string;
  /** OpenSSH private key protected by `passPhrase`, authorised for the user. */
  keyPath: string;
  passPhrase: string;
  remove(): Promise<void>;
}

async function makeHostKey(dir: string): Promise<string> {
  const key = path.join(dir, 'ssh_host_ed25519_key');
  fs.rmSync(key, { force: true });
  fs.rmSync(`${key}.pub`, { force: true });
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  return key;
}

export async function startSshd(dir: string): Promise<TestSshd> {
  fs.mkdirSync(dir, { recursive: true });
  // sshd reads authorized keys as the user, who cannot enter the test's 0700 temp dir.
  const keysDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-sshd-keys-'));
  fs.chmodSync(keysDir, 0o755);
  // sshd refuses to start without its privilege separation directory.
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const hostKey = await makeHostKey(dir);
  const conf = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${keysDir}/%u`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      '',
    ].join('\n'),
  );
  let proc: ResultPromise | undefined;
  const start = async () => {
    proc = execa('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { reject: false });
    await waitForPort(port);
  };
  const stop = async () => {
    proc?.kill('SIGTERM');
    await proc;
  };
  const stopAll = async () => {
    await stop();
    fs.rmSync(keysDir, { recursive: true, force: true });
  };
  await start();
  return {
    port,
    dir,
    keysDir,
    hostKeyFingerprint: async () => {
      const r = await execa('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]);
      return r.stdout.split(/\s+/)[1]!;
    },
    rotateHostKey: async () => {
      await stop();
      await makeHostKey(dir);
      await start();
    },
    stop: stopAll,
  };
}

/**
 * Creates a user with a random password, member of `sudo` (Debian's sudoers lets that group
 * use sudo with the user's password), and an ed25519 key with a pass phrase.
 */
export async function createTestUser(sshd: TestSshd): Promise<TestUser> {
  const name = `ca7${crypto.randomBytes(3).toString('hex')}`;
  const password = crypto.randomBytes(12).toString('base64url');
  const passPhrase = crypto.randomBytes(12).toString('base64url');
  await execa('useradd', ['-m', '-s', '/bin/sh', '-G', 'sudo', name]);
  await execa('chpasswd', { input: `${name}:${password}\n` });
  const keyPath = path.join(sshd.dir, `${name}_ed25519`);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passPhrase, '-f', keyPath]);
  fs.copyFileSync(`${keyPath}.pub`, path.join(sshd.keysDir, name));
  return {
    name,
    password,
    keyPath,
    passPhrase,
    remove: async () => {
      await execa('userdel', ['-r', name], { reject: false });
    },
  };
}
