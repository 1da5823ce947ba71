import fs from 'node:fs';
import { Client, type ConnectConfig } from 'ssh2';
import { OperationalError } from '../cli/errors.ts';
import type {
  Connection,
  ExecOptions,
  ExecResult,
  FileStat,
  NodeCredentials,
  WriteOptions,
} from './connection.ts';
import { hostKeyFingerprint, type HostKeyPins } from './host-key-pins.ts';
import { PosixFiles, quoteCommand, quoteWord } from './posix-command.ts';

export interface SshTarget {
  host: string;
  port?: number;
  credentials: NodeCredentials;
  pins: HostKeyPins;
  readyTimeoutMs?: number;
}

/** A node reached over SSH (ssh2): password or key login, sudo when not root. */
export class SshConnection implements Connection {
  readonly label: string;
  private readonly files: PosixFiles;
  private sudoMode: 'none' | 'nopasswd' | 'password' | undefined;

  private constructor(
    private readonly client: Client,
    private readonly target: SshTarget & { port: number },
  ) {
    this.label = `ssh://${target.credentials.username}@${target.host}:${target.port}`;
    this.files = new PosixFiles(this.label, (script, options) => this.shell(script, options));
  }

  static async open(target: SshTarget): Promise<SshConnection> {
    const full = { ...target, port: target.port ?? 22 };
    const client = await connectClient(full);
    return new SshConnection(client, full);
  }

  exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.shell(quoteCommand(argv), options);
  }

  readFile(path: string, options: { sudo?: boolean } = {}): Promise<Buffer> {
    return this.files.readFile(path, options.sudo);
  }

  writeFile(path: string, data: Buffer | string, options: WriteOptions): Promise<void> {
    return this.files.writeFile(path, data, options);
  }

  stat(path: string, options: { sudo?: boolean } = {}): Promise<FileStat | null> {
    return this.files.stat(path, options.sudo);
  }

  async close(): Promise<void> {
    this.client.end();
  }

  private async shell(script: string, options: ExecOptions): Promise<ExecResult> {
    if (!options.sudo) return this.raw(`sh -c ${quoteWord(script)}`, options.stdin);

    const mode = await this.resolveSudoMode();
    if (mode === 'none') return this.raw(`sh -c ${quoteWord(script)}`, options.stdin);
    if (mode === 'nopasswd') return this.raw(`sudo -n sh -c ${quoteWord(script)}`, options.stdin);

    // The password goes first on stdin (sudo -S reads exactly one line), never in argv.
    const password = this.target.credentials.password ?? '';
    const stdin = Buffer.concat([Buffer.from(`${password}\n`), Buffer.from(options.stdin ?? '')]);
    const r = await this.raw(`sudo -S -k -p '' sh -c ${quoteWord(script)}`, stdin);
    if (/incorrect password|a password is required/i.test(r.stderr)) {
      throw new OperationalError(
        `sudo refused the password of ${this.target.credentials.username} on ${this.label}; ` +
          'check the secret in the credential store and the sudoers entry',
        'ssh-sudo-refused',
      );
    }
    return r;
  }

  // Root needs no sudo; otherwise prefer passwordless sudo so no password is sent at all.
  private async resolveSudoMode(): Promise<'none' | 'nopasswd' | 'password'> {
    if (this.sudoMode) return this.sudoMode;
    if (this.target.credentials.username === 'root') return (this.sudoMode = 'none');

    const probe = await this.raw('sudo -n true', undefined);
    if (probe.exitCode === 0) return (this.sudoMode = 'nopasswd');
    if (!this.target.credentials.password) {
      throw new OperationalError(
        `${this.target.credentials.username} on ${this.label} needs a password for sudo and ` +
          'the secret has none; add the password to the secret or allow NOPASSWD sudo',
        'ssh-sudo-needs-password',
      );
    }
    return (this.sudoMode = 'password');
  }

  private raw(command: string, stdin: Buffer | string | undefined): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err) {
          reject(
            new OperationalError(
              `cannot run a command on ${this.label}: ${err.message}`,
              'ssh-exec',
              {
                cause: err,
              },
            ),
          );
          return;
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let exitCode = 1;
        channel.on('data', (d: Buffer) => out.push(d));
        channel.stderr.on('data', (d: Buffer) => errOut.push(d));
        channel.on('exit', (code: number | null) => (exitCode = code ?? 1));
        channel.on('close', () =>
          resolve({
            exitCode,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errOut).toString('utf8'),
          }),
        );
        channel.end(stdin ?? '');
      });
    });
  }
}

function connectClient(target: SshTarget & { port: number }): Promise<Client> {
  const client = new Client();
  const where = `${target.host}:${target.port}`;
  let mismatch: { pinned: string; offered: string } | undefined;

  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.credentials.username,
    readyTimeout: target.readyTimeoutMs ?? 20_000,
    // Pinned on first use; afterwards any other key is refused before authenticating.
    hostVerifier: (key: Buffer) => {
      const offered = hostKeyFingerprint(key);
      const pinned = target.pins.lookup(target.host, target.port);
      if (!pinned) {
        target.pins.pin(target.host, target.port, offered);
        return true;
      }
      if (pinned === offered) return true;
      mismatch = { pinned, offered };
      return false;
    },
    ...authConfig(target.credentials, where),
  };

  return new Promise((resolve, reject) => {
    let settled = false;
    client.once('ready', () => {
      settled = true;
      resolve(client);
    });
    // Kept for the connection's life: ssh2 emits more errors (a dropped link, the end of a
    // half-open handshake) and an unheard one would take the whole agent down. After the
    // handshake each command reports its own failure.
    client.on('error', (err: Error & { level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      if (mismatch) {
        reject(
          new OperationalError(
            `host key of ${where} changed: pinned ` +
              `${mismatch.pinned}, offered ${mismatch.offered}; ` +
              'refusing to connect. If the node was reinstalled, check the new key with its ' +
              `administrator and run "certagent host-keys forget ${where}"`,
            'ssh-host-key-changed',
            { cause: err },
          ),
        );
        return;
      }
      reject(sshError(err, where, target.credentials.username));
    });
    try {
      client.connect(config);
    } catch (err) {
      // ssh2 parses the private key synchronously: a wrong pass phrase lands here.
      reject(sshError(err as Error, where, target.credentials.username));
    }
  });
}

function authConfig(credentials: NodeCredentials, where: string): Partial<ConnectConfig> {
  if (credentials.privateKeyPath) {
    let privateKey: Buffer;
    try {
      privateKey = fs.readFileSync(credentials.privateKeyPath);
    } catch (err) {
      throw new OperationalError(
        `cannot read the private key ${credentials.privateKeyPath} for ${where}; ` +
          'check the path in the credential store secret',
        'ssh-key-unreadable',
        { cause: err },
      );
    }
    return { privateKey, passphrase: credentials.passPhrase };
  }
  return { password: credentials.password, tryKeyboard: false };
}

function sshError(err: Error & { level?: string }, where: string, user: string): OperationalError {
  if (err.level === 'client-authentication') {
    return new OperationalError(
      `SSH login as ${user} on ${where} was refused; check the secret's password or key`,
      'ssh-auth-failed',
      { cause: err },
    );
  }
  if (/passphrase|encrypted|parse/i.test(err.message)) {
    return new OperationalError(
      `cannot use the private key for ${where}: ` +
        `${err.message}; check the pass phrase in the secret`,
      'ssh-key-invalid',
      { cause: err },
    );
  }
  return new OperationalError(
    `cannot connect over SSH to ${where}: ${err.message}; check host, port and that sshd runs`,
    'ssh-connect-failed',
    { cause: err },
  );
}
