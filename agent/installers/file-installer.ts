import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { Connection } from '../connections/connection.ts';
import { leafFingerprint } from '../nodes/fingerprint.ts';
import type { ServerControl } from '../nodes/server-control.ts';
import type { Site } from '../nodes/site.ts';
import { silentLogger } from '../logging/logger.ts';
import { backupFiles, backupStamp, restoreFiles, type BackedUpFile } from './file-backup.ts';
import { StepError, type InstallResult, type InstallStep } from './install-result.ts';
import { createKeyRequest, type CertificateSubject, type KeyRequest } from './key-request.ts';
import type { CertificateSigner, SignedCertificate } from './signer.ts';
import { confirmServed } from './tls-confirm.ts';

export interface FileInstallRequest {
  conn: Connection;
  site: Site;
  control: ServerControl;
  signer: CertificateSigner;
  /** Defaults to the site's first server name and all its names as SANs. */
  subject?: CertificateSubject;
  /** Where to handshake when the site listens on every address (the node's host). */
  nodeHost: string;
  sudo?: boolean;
  now?: Date;
  logger?: Logger;
  /** A key and CSR made earlier (the manager's CA signed the CSR in between). */
  keyRequest?: KeyRequest;
  /** How long to wait for the new certificate to be served after the reload. */
  confirmWaitMs?: number;
}

/**
 * Replaces the certificate and key of an nginx or Apache site: new key and CSR, signed,
 * old files backed up, new ones placed with the old owner (key 0600), configuration
 * tested, server reloaded, new fingerprint confirmed by a handshake. A failure after the
 * backup puts the old files back (and reloads if the server had been reloaded).
 */
export async function installOnFileServer(req: FileInstallRequest): Promise<InstallResult> {
  const log = (req.logger ?? silentLogger()).child({ site: req.site.id, node: req.conn.label });
  const sudo = req.sudo ?? false;
  const result: InstallResult = {
    siteId: req.site.id,
    status: 'failed',
    fingerprint: req.site.fingerprint ?? null,
    previousFingerprint: req.site.fingerprint ?? null,
    backups: [],
  };
  let files: BackedUpFile[] = [];
  let reloaded = false;
  const progress = { step: 'discover' as InstallStep };

  try {
    const { certPath, keyPath } = requirePaths(req.site);
    progress.step = 'key-request';
    const subject = req.subject ?? defaultSubject(req.site);
    const { keyPem, csrPem } = req.keyRequest ?? (await createKeyRequest(subject));

    progress.step = 'sign';
    const signed = await signWith(req.signer, csrPem);
    const fingerprint = leafFingerprint(signed.certificatePem)!;

    progress.step = 'backup';
    const paths = [certPath, keyPath, ...(req.site.chainPath ? [req.site.chainPath] : [])];
    files = await backupFiles(req.conn, paths, backupStamp(req.now ?? new Date()), sudo);
    result.backups = files.flatMap((f) => (f.backup ? [f.backup] : []));

    progress.step = 'place';
    await placeFiles(req, files, keyPem, signed);

    progress.step = 'config-test';
    await runControl(req, req.control.test, 'config-test');

    progress.step = 'reload';
    reloaded = true;
    await runControl(req, req.control.reload, 'reload');

    progress.step = 'confirm';
    await confirm(req, fingerprint);

    log.info({ fingerprint }, 'certificate installed');
    return {
      ...result,
      status: 'installed',
      fingerprint,
      notAfter: new X509Certificate(signed.certificatePem).validTo,
    };
  } catch (err) {
    const step = err instanceof StepError ? err.step : progress.step;
    const message = (err as Error).message;
    log.warn({ step, err: message }, 'installation failed, restoring previous files');
    const rolledBack = await rollBack(req, files, reloaded);
    return {
      ...result,
      error: { step, message: message + rolledBack.note, rolledBack: rolledBack.ok },
    };
  }
}

function requirePaths(site: Site): { certPath: string; keyPath: string } {
  if (!site.certPath || !site.keyPath || site.certPath.includes('$')) {
    throw new StepError(
      'discover',
      `site ${site.id} in ${site.configFile} has no plain certificate and key path; ` +
        'only sites with file paths (no variables, no keystore) can be installed to',
    );
  }
  return { certPath: site.certPath, keyPath: site.keyPath };
}

export function defaultSubject(site: Site): CertificateSubject {
  const names = site.serverNames.filter(
    (n) => n && n !== '_' && !n.startsWith('~') && !n.includes('*'),
  );
  const cn = names[0] ?? 'localhost';
  return { commonName: cn, altNames: names };
}

async function signWith(signer: CertificateSigner, csrPem: string): Promise<SignedCertificate> {
  try {
    return await signer.sign(csrPem);
  } catch (err) {
    throw new StepError('sign', `the CA did not sign the request: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

// A separate chain file keeps the chain; otherwise the certificate file holds leaf + chain.
async function placeFiles(
  req: FileInstallRequest,
  files: BackedUpFile[],
  keyPem: string,
  signed: SignedCertificate,
): Promise<void> {
  const [cert, key, chain] = files;
  const leaf = `${signed.certificatePem.trim()}\n`;
  const chainPem = signed.chainPem.map((c) => `${c.trim()}\n`).join('');
  const sudo = req.sudo;
  try {
    await req.conn.writeFile(key!.path, keyPem, { mode: 0o600, owner: ownerOf(key!), sudo });
    const certBody = chain ? leaf : leaf + chainPem;
    await req.conn.writeFile(cert!.path, certBody, {
      mode: modeOf(cert!),
      owner: ownerOf(cert!),
      sudo,
    });
    if (chain) {
      await req.conn.writeFile(chain.path, chainPem, {
        mode: modeOf(chain),
        owner: ownerOf(chain),
        sudo,
      });
    }
  } catch (err) {
    throw new StepError('place', (err as Error).message, { cause: err });
  }
}

function ownerOf(f: BackedUpFile): { uid: number; gid: number } | undefined {
  return f.stat ? { uid: f.stat.uid, gid: f.stat.gid } : undefined;
}

function modeOf(f: BackedUpFile): number {
  return f.stat ? f.stat.mode : 0o644;
}

async function runControl(
  req: FileInstallRequest,
  verb: string[],
  step: InstallStep,
): Promise<void> {
  const argv = [...req.control.prefix, ...verb];
  const r = await req.conn.exec(argv, { sudo: req.sudo });
  if (r.exitCode !== 0) {
    const output = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new StepError(
      step,
      `\`${argv.join(' ')}\` failed on ${req.conn.label} (exit ${r.exitCode}): ${output}`,
    );
  }
}

async function confirm(req: FileInstallRequest, expected: string): Promise<void> {
  const listen = req.site.listen[0];
  if (!listen) throw new StepError('confirm', `site ${req.site.id} has no listen address`);
  const wildcard = ['*', '0.0.0.0', '::', '[::]'].includes(listen.address);
  const host = wildcard ? req.nodeHost : listen.address;
  const servername = req.site.serverNames[0];
  const seen = await confirmServed(
    { host, port: listen.port, servername },
    expected,
    req.confirmWaitMs,
  );
  if (!seen.ok) {
    throw new StepError(
      'confirm',
      `${host}:${listen.port} still serves ` +
        `${seen.seen ?? 'nothing'}${seen.error ? ` (${seen.error})` : ''}, ` +
        `not the new certificate ${expected}; check that the reload reached the running server`,
    );
  }
}

async function rollBack(
  req: FileInstallRequest,
  files: BackedUpFile[],
  reloaded: boolean,
): Promise<{ ok: boolean; note: string }> {
  if (files.length === 0) return { ok: true, note: '' };
  const problems = await restoreFiles(req.conn, files, req.sudo ?? false);
  // Before a reload the running server never read the new files, so none is needed.
  if (reloaded) {
    const r = await req.conn.exec([...req.control.prefix, ...req.control.reload], {
      sudo: req.sudo,
    });
    if (r.exitCode !== 0) problems.push(`reload after restore failed: ${r.stderr.trim()}`);
  }
  if (problems.length === 0) return { ok: true, note: '; previous files restored' };
  return { ok: false, note: `; ROLLBACK INCOMPLETE: ${problems.join('; ')}` };
}
