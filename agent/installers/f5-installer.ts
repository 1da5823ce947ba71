import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { silentLogger } from '../logging/logger.ts';
import { leafFingerprint } from '../nodes/fingerprint.ts';
import { normaliseF5Fingerprint } from '../nodes/f5-sites.ts';
import type { Site } from '../nodes/site.ts';
import type { F5Client } from './f5-client.ts';
import { backupStamp } from './file-backup.ts';
import { StepError, type InstallResult, type InstallStep } from './install-result.ts';
import { createKeyRequest, type CertificateSubject, type KeyRequest } from './key-request.ts';
import type { CertificateSigner } from './signer.ts';

interface CertKeyChain {
  name: string;
  cert?: string;
  key?: string;
  chain?: string;
}

export interface F5InstallRequest {
  client: F5Client;
  /** A client-SSL profile site from discoverF5Sites. */
  site: Site;
  signer: CertificateSigner;
  subject: CertificateSubject;
  now?: Date;
  logger?: Logger;
  /** A key and CSR made earlier (the manager's CA signed the CSR in between). */
  keyRequest?: KeyRequest;
}

function profilePath(fullPath: string): string {
  return `/mgmt/tm/ltm/profile/client-ssl/${fullPath.replace(/\//g, '~')}`;
}

/**
 * Installs a new key and certificate on a BIG-IP under dated names (the old objects stay
 * as the backup), points the client-SSL profile at them, and checks the profile now uses
 * a certificate with the new fingerprint. A failure after the PATCH restores the profile.
 */
export async function installOnF5(req: F5InstallRequest): Promise<InstallResult> {
  const log = (req.logger ?? silentLogger()).child({ site: req.site.id, node: req.client.label });
  const profile = profilePath(req.site.configFile);
  const result: InstallResult = {
    siteId: req.site.id,
    status: 'failed',
    fingerprint: req.site.fingerprint ?? null,
    previousFingerprint: req.site.fingerprint ?? null,
    backups: [req.site.certPath, req.site.keyPath].filter((p): p is string => Boolean(p)),
  };
  const progress = { step: 'key-request' as InstallStep };
  let previous: CertKeyChain[] | undefined;

  try {
    const { keyPem, csrPem } = req.keyRequest ?? (await createKeyRequest(req.subject));
    progress.step = 'sign';
    const signed = await req.signer.sign(csrPem);
    const fingerprint = leafFingerprint(signed.certificatePem)!;

    progress.step = 'place';
    const base = `certagent-${req.subject.commonName}-${backupStamp(req.now ?? new Date())}`;
    const names = await installObjects(
      req.client,
      base,
      keyPem,
      signed.certificatePem,
      signed.chainPem,
    );

    progress.step = 'reload';
    previous = (await req.client.get<{ certKeyChain?: CertKeyChain[] }>(profile)).certKeyChain;
    await req.client.patch(profile, {
      certKeyChain: [{ name: 'default', cert: names.cert, key: names.key, chain: names.chain }],
    });

    progress.step = 'confirm';
    await confirmProfile(req.client, profile, names.cert, fingerprint);
    log.info({ fingerprint }, 'certificate installed on BIG-IP');
    return {
      ...result,
      status: 'installed',
      fingerprint,
      notAfter: new X509Certificate(signed.certificatePem).validTo,
    };
  } catch (err) {
    const step = err instanceof StepError ? err.step : progress.step;
    log.warn({ step, err: (err as Error).message }, 'BIG-IP installation failed');
    const note = previous ? await restoreProfile(req.client, profile, previous) : '';
    return {
      ...result,
      error: {
        step,
        message: (err as Error).message + note,
        rolledBack: !note.includes('INCOMPLETE'),
      },
    };
  }
}

async function installObjects(
  client: F5Client,
  base: string,
  keyPem: string,
  certPem: string,
  chainPem: string[],
): Promise<{ key: string; cert: string; chain?: string }> {
  const keyFile = await client.upload(`${base}.key`, keyPem);
  await client.post('/mgmt/tm/sys/crypto/key', {
    command: 'install',
    name: `${base}.key`,
    'from-local-file': keyFile,
  });
  const certFile = await client.upload(`${base}.crt`, certPem);
  await client.post('/mgmt/tm/sys/crypto/cert', {
    command: 'install',
    name: `${base}.crt`,
    'from-local-file': certFile,
  });
  let chain: string | undefined;
  if (chainPem.length) {
    const chainFile = await client.upload(`${base}-chain.crt`, chainPem.join('\n'));
    await client.post('/mgmt/tm/sys/crypto/cert', {
      command: 'install',
      name: `${base}-chain.crt`,
      'from-local-file': chainFile,
    });
    chain = `/Common/${base}-chain.crt`;
  }
  return { key: `/Common/${base}.key`, cert: `/Common/${base}.crt`, chain };
}

async function confirmProfile(client: F5Client, profile: string, cert: string, expected: string) {
  const now = await client.get<{ certKeyChain?: CertKeyChain[] }>(profile);
  const used = now.certKeyChain?.[0]?.cert;
  const object = await client.get<{ fingerprint?: string }>(
    `/mgmt/tm/sys/crypto/cert/${(used ?? cert).replace(/\//g, '~')}`,
  );
  const seen = normaliseF5Fingerprint(object.fingerprint);
  if (used !== cert || seen !== expected) {
    throw new StepError(
      'confirm',
      `profile ${profile} uses ${used ?? 'no certificate'} (${seen ?? 'unknown fingerprint'}), ` +
        `not ${cert} (${expected}); check the profile on the BIG-IP`,
    );
  }
}

async function restoreProfile(
  client: F5Client,
  profile: string,
  previous: CertKeyChain[],
): Promise<string> {
  try {
    await client.patch(profile, { certKeyChain: previous });
    return '; profile restored to its previous certificate';
  } catch (err) {
    return `; ROLLBACK INCOMPLETE: could not restore ${profile}: ${(err as Error).message}`;
  }
}
