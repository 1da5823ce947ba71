import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { execa } from 'execa';

import { OperationalError } from '../../agent/cli/errors.ts';
import type { ReleaseKey } from '../keys/index.ts';

/**
 * Signs RPMs in place with rpmsign, the only tool whose signatures `rpm -K` and dnf accept.
 * rpmsign drives gpg, so the key goes into a throwaway GNUPGHOME that is deleted after.
 * rpm 4.18 holds one OpenPGP signature per package: during a rotation RPMs carry the
 * current key's, which the published key file still contains.
 */
export async function signRpms(files: string[], key: ReleaseKey): Promise<void> {
  if (files.length === 0) return;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-rpmsign-'));
  const env = { GNUPGHOME: home };

  try {
    // Through stdin: the private key never appears in process arguments.
    await execa('gpg', ['--batch', '--quiet', '--import'], { env, input: key.armoredPrivateKey });
    const res = await execa('rpmsign', ['--addsign', ...defines(key, home), ...files], {
      env,
      reject: false,
    });
    if (res.exitCode !== 0) {
      throw new OperationalError(
        `rpmsign failed on ${files.map((f) => path.basename(f)).join(', ')}: ` +
          `${res.stderr.trim()}. Check that the release key can sign (see repo-publish/keys).`,
        'rpm_sign',
      );
    }
  } finally {
    await execa('gpgconf', ['--kill', 'gpg-agent'], { env, reject: false });
    fs.rmSync(home, { recursive: true, force: true });
  }
}

function defines(key: ReleaseKey, home: string): string[] {
  return [
    ['_gpg_name', key.fingerprint],
    ['_gpg_path', home],
    // Debian's rpm does not find gpg without it.
    ['__gpg', '/usr/bin/gpg'],
    ['_gpg_sign_cmd_extra_args', '--batch --no-tty --pinentry-mode loopback'],
  ].flatMap(([name, value]) => ['--define', `${name} ${value}`]);
}
