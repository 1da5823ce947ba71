import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../cli/errors.ts';
import { toCredential, type Credential, type SecretFields } from './credential.ts';
import type { CredentialStore } from './store.ts';
import { openSealed, storeBox } from './store-cipher.ts';
import { writeFileAtomic } from '../config/atomic-file.ts';

/** Name of the store every install creates. */
export const LOCAL_STORE_NAME = 'local-store';
const FILE = 'local-store.enc';

interface LocalStoreData {
  version: 1;
  secrets: Record<string, SecretFields>;
}

/** Path of the encrypted local store beside the configuration. */
export function localStoreFile(confDir: string): string {
  return path.join(confDir, FILE);
}

/**
 * The encrypted local credential store: one AES-256-GCM sealed JSON document. A file that
 * fails to decrypt is reported and left alone, never replaced by an empty store.
 */
export class LocalStore implements CredentialStore {
  readonly type = 'local' as const;
  private readonly file: string;

  constructor(
    private readonly confDir: string,
    readonly name = LOCAL_STORE_NAME,
  ) {
    this.file = localStoreFile(confDir);
  }

  /** Creates an empty store; an existing one is kept (install and upgrade both call this). */
  init(): boolean {
    if (fs.existsSync(this.file)) {
      this.read();
      return false;
    }
    this.write({ version: 1, secrets: {} });
    return true;
  }

  async getCredential(ref: string): Promise<Credential> {
    return toCredential(this.name, ref, this.getFields(ref));
  }

  getFields(ref: string): SecretFields {
    const fields = this.read().secrets[ref];
    if (!fields) {
      throw new OperationalError(
        `secret "${ref}" is not in ${this.name} (${this.file}); list them with ` +
          '`certagent-config credstore secret list`',
        'credstore-secret-not-found',
      );
    }
    return fields;
  }

  /** Stores a secret after checking it is usable as a login. */
  setSecret(ref: string, fields: SecretFields): void {
    toCredential(this.name, ref, fields);
    const data = this.read();
    data.secrets[ref] = fields;
    this.write(data);
  }

  deleteSecret(ref: string): boolean {
    const data = this.read();
    if (!(ref in data.secrets)) return false;
    delete data.secrets[ref];
    this.write(data);
    return true;
  }

  listSecrets(): string[] {
    return Object.keys(this.read().secrets).sort();
  }

  async check(): Promise<void> {
    this.read();
  }

  async close(): Promise<void> {}

  private read(): LocalStoreData {
    const sealed = this.readFile();
    const plain = openSealed(
      storeBox(this.confDir),
      sealed.trim(),
      FILE,
      `local store ${this.file}`,
    );
    try {
      const data = JSON.parse(plain) as LocalStoreData;
      if (data.version !== 1 || typeof data.secrets !== 'object' || data.secrets === null) {
        throw new Error(`unknown layout version ${String(data.version)}`);
      }
      return data;
    } catch (err) {
      throw new OperationalError(
        `local store ${this.file} decrypts but its ` +
          `content is not valid (${(err as Error).message}); ` +
          'restore it from a backup (it was left untouched)',
        'secret-damaged',
        { cause: err },
      );
    }
  }

  private readFile(): string {
    try {
      return fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new OperationalError(
        missing
          ? `local store ${this.file} does not exist; create it with ` +
            '`certagent-config credstore init-local`'
          : `cannot read local store ${this.file}: ${(err as Error).message}`,
        missing ? 'credstore-missing' : 'credstore-unreadable',
        { cause: err },
      );
    }
  }

  // Write-then-rename so a crash mid-write leaves the previous store, not half a file.
  private write(data: LocalStoreData): void {
    fs.mkdirSync(this.confDir, { recursive: true, mode: 0o750 });
    const sealed = storeBox(this.confDir).seal(JSON.stringify(data), FILE);
    writeFileAtomic(this.file, `${sealed}\n`);
  }
}
