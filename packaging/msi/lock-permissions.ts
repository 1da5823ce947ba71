import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { INSTALL_KEY } from './properties.ts';

/** GENERIC_ALL, as the LockPermissions table spells an access mask. */
const GENERIC_ALL = 0x10000000;
const OWNERS = ['SYSTEM', 'Administrators'];

/**
 * Restricts HKLM\SOFTWARE\certagent\Install, where the token and proxy password wait for
 * the agent's first start, to SYSTEM and Administrators: the registry's answer to a 0600
 * file. wixl has no <Permission> element, so the LockPermissions table is added to the
 * built MSI with msibuild, one row per value of the key (Windows applies it to the key).
 */
export async function lockInstallKey(
  msi: string,
  work: string,
  frozenClock: string,
): Promise<void> {
  const { stdout } = await execa('msiinfo', ['export', msi, 'Registry']);
  const rows = stdout
    .split(/\r?\n/)
    .slice(3)
    .map((line) => line.split('\t'))
    .filter((cols) => cols[2] === INSTALL_KEY)
    .map((cols) => cols[0]);
  if (rows.length === 0) throw new Error(`${msi} has no Registry rows for ${INSTALL_KEY}`);

  const idt = path.join(work, 'LockPermissions.idt');
  const lines = [
    'LockObject\tTable\tDomain\tUser\tPermission',
    's72\ts32\tS255\ts255\tI4',
    'LockPermissions\tLockObject\tTable\tDomain\tUser',
    ...rows.flatMap((row) => OWNERS.map((user) => `${row}\tRegistry\t\t${user}\t${GENERIC_ALL}`)),
  ];
  fs.writeFileSync(idt, `${lines.join('\r\n')}\r\n`);
  const res = await execa('faketime', ['-f', frozenClock, 'msibuild', msi, '-i', idt], {
    env: { TZ: 'UTC' },
    reject: false,
  });
  if (res.exitCode !== 0) {
    throw new Error(`msibuild could not add LockPermissions to ${msi}: ${res.stderr.trim()}`);
  }
}
