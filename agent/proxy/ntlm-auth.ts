import os from 'node:os';
import ntlm from '@ewsjs/ntlm-client';

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
): string {
  const type2 = ntlm.decodeType2Message(challengeHeader);
  return ntlm.createType3Message(type2, user, password, workstationName(), domain);
}

function workstationName(): string {
  return os.hostname().split('.')[0]!.toUpperCase().slice(0, 15);
}
