import crypto from 'node:crypto';
import { createRequire } from 'node:module';

// The MD4-based NT hash (MD4 is gone from OpenSSL 3's default provider): the same
// helper the client library uses, but the NTLMv2 proof below is recomputed independently.
const require = createRequire(import.meta.url);
const hash = require('@ewsjs/ntlm-client/lib/hash.js') as { createNTLMHash(p: string): Buffer };

const SIGNATURE = 'NTLMSSP\0';
const FLAGS = 0x00000001 | 0x00000004 | 0x00000200 | 0x00080000 | 0x00800000;

/** Builds a type 2 (challenge) message for `domain`, with target info as Windows sends. */
export function challengeMessage(domain: string): { message: Buffer; challenge: Buffer } {
  const challenge = crypto.randomBytes(8);
  const name = Buffer.from(domain, 'utf16le');
  const info = Buffer.concat([
    avPair(2, name),
    avPair(1, Buffer.from('FAKEWIN', 'utf16le')),
    avPair(0, Buffer.alloc(0)),
  ]);
  const header = Buffer.alloc(48);
  header.write(SIGNATURE, 0, 'latin1');
  header.writeUInt32LE(2, 8);
  secBuffer(header, 12, name.length, 48);
  header.writeUInt32LE(FLAGS, 20);
  challenge.copy(header, 24);
  secBuffer(header, 40, info.length, 48 + name.length);
  return { message: Buffer.concat([header, name, info]), challenge };
}

function avPair(id: number, value: Buffer): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(id, 0);
  b.writeUInt16LE(value.length, 2);
  return Buffer.concat([b, value]);
}

function secBuffer(buf: Buffer, at: number, length: number, offset: number): void {
  buf.writeUInt16LE(length, at);
  buf.writeUInt16LE(length, at + 2);
  buf.writeUInt32LE(offset, at + 4);
}

function readSec(buf: Buffer, at: number): Buffer {
  const len = buf.readUInt16LE(at);
  const off = buf.readUInt32LE(at + 4);
  return buf.subarray(off, off + len);
}

export function messageType(token: Buffer): number {
  if (token.length < 12 || token.toString('latin1', 0, 8) !== SIGNATURE) return 0;
  return token.readUInt32LE(8);
}

/**
 * Checks a type 3 message's NTLMv2 response against the user table: HMAC-MD5 over the
 * server challenge and the client blob, keyed with the NTLMv2 hash of user and domain.
 */
export function verifyAuthenticate(
  token: Buffer,
  challenge: Buffer,
  users: Record<string, string>,
): string | null {
  const nt = readSec(token, 20);
  const domain = readSec(token, 28).toString('utf16le');
  const user = readSec(token, 36).toString('utf16le');
  const password = users[user] ?? users[`${domain}\\${user}`];
  if (password === undefined || nt.length < 24) return null;

  const v2hash = crypto
    .createHmac('md5', hash.createNTLMHash(password))
    .update(Buffer.from(user.toUpperCase() + domain, 'utf16le'))
    .digest();
  const blob = nt.subarray(16);
  const proof = crypto
    .createHmac('md5', v2hash)
    .update(Buffer.concat([challenge, blob]))
    .digest();
  return crypto.timingSafeEqual(proof, nt.subarray(0, 16)) ? user : null;
}
