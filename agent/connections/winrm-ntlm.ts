import os from 'node:os';
import ntlm from '@ewsjs/ntlm-client';

/**
 * NTLM messages for WinRM's `Authorization: Negotiate` header (raw NTLMSSP tokens, which
 * the Negotiate package accepts), from @ewsjs/ntlm-client.
 */
export function winrmNegotiate(domain: string): string {
  return ntlm.createType1Message(workstation(), domain).replace(/^NTLM /, 'Negotiate ');
}

/** Answers `WWW-Authenticate: Negotiate <challenge>` with the type 3 message. */
export function winrmAuthenticate(
  challenge: string,
  domain: string,
  user: string,
  password: string,
): string {
  const type2 = ntlm.decodeType2Message(challenge.replace(/^(Negotiate|NTLM) /, 'NTLM '));
  return ntlm
    .createType3Message(type2, user, password, workstation(), domain)
    .replace(/^NTLM /, 'Negotiate ');
}

function workstation(): string {
  return os.hostname().split('.')[0]!.toUpperCase().slice(0, 15);
}
