import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';
import { writeFileAtomic } from '../config/atomic-file.ts';

/** OpenSSH's way of showing a host key: `SHA256:` and unpadded base64 of the key blob. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  const digest = crypto.createHash('sha256').update(keyBlob).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/**
 * Host keys pinned on first use, kept in the agent's configuration directory
 * (`known-nodes.json`, one fingerprint per `host:port`).
 */
export class HostKeyPins {
  constructor(readonly file: string) {}

  lookup(host: string, port: number): string | undefined {
    return this.load()[`${host}:${port}`];
  }

  pin(host: string, port: number, fingerprint: string): void {
    const pins = this.load();
    pins[`${host}:${port}`] = fingerprint;
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o750 });
    writeFileAtomic(this.file, `${JSON.stringify(pins, null, 2)}\n`);
  }

  /** Every pin, `host:port` to fingerprint. */
  list(): Record<string, string> {
    return this.load();
  }

  /** Forgets a pin, for an operator who has checked that a key change is legitimate. */
  forget(host: string, port: number): void {
    const pins = this.load();
    delete pins[`${host}:${port}`];
    fs.writeFileSync(this.file, `${JSON.stringify(pins, null, 2)}\n`, { mode: 0o600 });
  }

  private load(): Record<string, string> {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return {};
    }
    try {
      return JSON.parse(text) as Record<string, string>;
    } catch (err) {
      throw new OperationalError(
        `the pinned host keys file ${this.file} is not valid JSON; fix or remove it`,
        'host-key-pins-corrupt',
        { cause: err },
      );
    }
  }
}
