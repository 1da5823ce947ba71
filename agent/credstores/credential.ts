import { OperationalError } from '../cli/errors.ts';

/** A login read from a credential store: a password or a private key, never both. */
export interface Credential {
  username: string;
  password?: string;
  privateKeyPath?: string;
  passPhrase?: string;
}

/** The raw key/value fields a store returned for one secret. */
export type SecretFields = Record<string, unknown>;

/**
 * Turns the fields a store returned into a Credential, refusing the shapes an installer
 * could not use: no username, neither password nor key, or both at once (ambiguous).
 */
export function toCredential(store: string, ref: string, fields: SecretFields): Credential {
  const where = `secret "${ref}" in credential store "${store}"`;
  const username = stringField(fields, 'username');
  const password = stringField(fields, 'password');
  const privateKeyPath = stringField(fields, 'private_key_path');
  const passPhrase = stringField(fields, 'pass_phrase');

  if (!username) {
    throw invalid(`${where} has no "username" field; add one to the secret`);
  }
  if (password && privateKeyPath) {
    throw invalid(
      `${where} holds both "password" and "private_key_path"; keep only one of them so the ` +
        'login method is unambiguous',
    );
  }
  if (!password && !privateKeyPath) {
    throw invalid(`${where} holds neither "password" nor "private_key_path"; add one of them`);
  }
  return { username, password, privateKeyPath, passPhrase };
}

function stringField(fields: SecretFields, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

function invalid(message: string): OperationalError {
  return new OperationalError(message, 'credstore-secret-invalid');
}

/** Field names with a masked preview, for `credstore test`: never the values themselves. */
export function describeCredential(cred: Credential): Record<string, string> {
  const out: Record<string, string> = { username: mask(cred.username) };
  if (cred.password) out.password = '********';
  if (cred.privateKeyPath) out.private_key_path = cred.privateKeyPath;
  if (cred.passPhrase) out.pass_phrase = '********';
  return out;
}

// The user name is not a secret by itself, but showing it whole in a terminal that may
// be recorded is more than an operator needs to confirm the right secret was read.
function mask(value: string): string {
  if (value.length <= 2) return '*'.repeat(value.length);
  return `${value[0]}${'*'.repeat(Math.min(value.length - 2, 6))}${value[value.length - 1]}`;
}
