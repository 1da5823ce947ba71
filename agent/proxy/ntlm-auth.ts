import os from 'node:os';
import ntlm from '@ewsjs/ntlm-client';
import { OperationalError } from '../cli/errors.ts';

/**
 * NTLM messages for Proxy-Authorization, from @ewsjs/ntlm-client. Only the message
 * encoding lives here; the three-leg exchange on one connection is in connect-handshake.ts.
 */
export function ntlmNegotiate(domain: string): string {
  return ntlm.createType1Message(workstationName(), domain);
}

/** Builds the type 3 answer to the proxy's `Proxy-Authenticate: NTLM <challenge>`. */
export function ntlmAuthenticate(
  challengeHeader: string,
  domain: string,
  user: string,
  password: string,
  proxy: string,
): string {
  try {
    const type2 = ntlm.decodeType2Message(`NTLM ${repairChallenge(challengeHeader)}`);
    // NTLMv2 hashes the server's target info; a challenge without one (allowed by the
    // protocol when the flag is off) is answered with an empty block instead of crashing.
    type2.targetInfo ??= { parsed: {}, buffer: Buffer.alloc(0) };
    return ntlm.createType3Message(type2, user, password, workstationName(), domain);
  } catch (err) {
    throw new OperationalError(
      `proxy ${proxy} sent an NTLM challenge the agent cannot read (${(err as Error).message}); ` +
        'check that the proxy really speaks NTLM, or use basic authentication (no domain)',
      'proxy-auth-failed',
      { cause: err },
    );
  }
}

/**
 * Some NTLM servers (squid's ntlm_fake_auth among them) send a TargetName whose offset
 * points outside the message. The agent never uses the server's target name (it sends
 * the configured domain), so such a field is emptied rather than failing the login.
 */
function repairChallenge(header: string): string {
  const buf = Buffer.from(header.replace(/^NTLM\s+/i, ''), 'base64');
  if (buf.length < 32) return buf.toString('base64');
  const length = buf.readUInt16LE(12);
  const offset = buf.readUInt32LE(16);
  if (length > 0 && (offset < 32 || offset + length > buf.length)) {
    buf.writeUInt16LE(0, 12);
    buf.writeUInt16LE(0, 14);
  }
  return buf.toString('base64');
}

function workstationName(): string {
  return os.hostname().split('.')[0]!.toUpperCase().slice(0, 15);
}
