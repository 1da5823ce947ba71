import { execa } from 'execa';
import fs from 'node:fs';
import { OperationalError } from '../../agent/cli/errors.ts';

export interface AuthenticodeSigner {
  /** PEM chain (leaf first) and its private key. */
  chain: string;
  key: string;
}

/**
 * Authenticode-signs a PE file or MSI with osslsigncode. The signing time is fixed to
 * `signingTime` (SOURCE_DATE_EPOCH) and no timestamp server is asked, so the result is
 * reproducible; `description` is the name Windows shows in the UAC prompt.
 */
export async function signAuthenticode(
  input: string,
  output: string,
  signer: AuthenticodeSigner,
  opts: { signingTime: number; description: string; url?: string },
): Promise<string> {
  const tmp = `${output}.${process.pid}.signing`;
  fs.rmSync(tmp, { force: true });
  const args = [
    'sign',
    '-certs',
    signer.chain,
    '-key',
    signer.key,
    '-h',
    'sha256',
    '-n',
    opts.description,
    '-time',
    String(opts.signingTime),
    '-in',
    input,
    '-out',
    tmp,
  ];
  if (opts.url) args.splice(args.indexOf('-in'), 0, '-i', opts.url);

  const res = await execa('osslsigncode', args, { reject: false });
  if (res.exitCode !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new OperationalError(
      `osslsigncode could not sign ${input}: ${(res.stdout + res.stderr).trim()}`,
      'authenticode_sign',
    );
  }
  fs.renameSync(tmp, output);
  return output;
}

/** Runs `osslsigncode verify` against `caFile`; resolves to its output, throws on failure. */
export async function verifyAuthenticode(file: string, caFile: string): Promise<string> {
  const res = await execa('osslsigncode', ['verify', '-in', file, '-CAfile', caFile], {
    reject: false,
  });
  const out = `${res.stdout}\n${res.stderr}`.trim();
  if (res.exitCode !== 0) {
    throw new OperationalError(
      `Authenticode signature of ${file} does not verify against ${caFile}: ${out}`,
      'authenticode_verify',
    );
  }
  return out;
}
