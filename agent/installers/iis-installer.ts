import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { WinRmConnection } from '../connections/winrm.ts';
import { silentLogger } from '../logging/logger.ts';
import { leafFingerprint } from '../nodes/fingerprint.ts';
import { IIS_DISCOVER_SCRIPT, iisSites, psParams } from '../nodes/iis-bindings.ts';
import type { Site } from '../nodes/site.ts';
import { StepError, type InstallResult, type InstallStep } from './install-result.ts';
import type { CertificateSubject } from './key-request.ts';
import type { CertificateSigner } from './signer.ts';

export interface IisInstallRequest {
  conn: WinRmConnection;
  site: Site;
  signer: CertificateSigner;
  subject: CertificateSubject;
  logger?: Logger;
  /** A CSR the node made earlier (its key waits in the node's request store). */
  csrPem?: string;
}

// certreq makes the key in the machine store, not exportable: it never leaves the node.
function requestScript(subject: CertificateSubject): string {
  return `${psParams('iis-request', subject)}\
$dir = Join-Path $env:TEMP ('certagent-' + [guid]::NewGuid())
New-Item -ItemType Directory -Path $dir | Out-Null
$sans = ($p.altNames | ForEach-Object { "dns=$_" }) -join '&'
@"
[NewRequest]
Subject = "CN=$($p.commonName)"
KeyLength = 2048
KeySpec = 1
Exportable = FALSE
MachineKeySet = TRUE
RequestType = PKCS10
[Extensions]
2.5.29.17 = "{text}$sans"
"@ | Set-Content -Path "$dir\\req.inf"
certreq.exe -new -q -machine "$dir\\req.inf" "$dir\\req.csr" | Out-Null
if ($LASTEXITCODE -ne 0) { throw "certreq -new failed with $LASTEXITCODE" }
Get-Content -Raw "$dir\\req.csr"
Remove-Item -Recurse -Force $dir
`;
}

function bindScript(site: Site, certPem: string | null, thumbprint: string | null): string {
  const params = {
    site: site.binding?.site,
    bindingInformation: site.binding?.information,
    certPem,
    thumbprint,
  };
  return `${psParams('iis-bind', params)}Import-Module WebAdministration
$thumb = $p.thumbprint
if ($p.certPem) {
  $file = Join-Path $env:TEMP ('certagent-' + [guid]::NewGuid() + '.cer')
  Set-Content -Path $file -Value $p.certPem
  certreq.exe -accept -q -machine $file | Out-Null
  if ($LASTEXITCODE -ne 0) { throw "certreq -accept failed with $LASTEXITCODE" }
  $thumb = (New-Object Security.Cryptography.X509Certificates.X509Certificate2 $file).Thumbprint
  Remove-Item $file
}
$b = Get-WebBinding -Name $p.site -Protocol https | \
Where-Object { $_.bindingInformation -eq $p.bindingInformation }
if (-not $b) { throw "binding $($p.bindingInformation) of site $($p.site) not found" }
$b.AddSslCertificate($thumb, 'My')
ConvertTo-Json -Compress @{ thumbprint = $thumb }
`;
}

/**
 * Replaces the certificate of an IIS HTTPS binding over WinRM: CSR made on the node by
 * certreq, signed, accepted into LocalMachine\\My, bound; the binding is then read back and
 * must show the new fingerprint. The old certificate stays in the store; a failure after
 * the binding puts the old thumbprint back.
 */
export async function installOnIis(req: IisInstallRequest): Promise<InstallResult> {
  const log = (req.logger ?? silentLogger()).child({ site: req.site.id, node: req.conn.label });
  const previous = req.site.store?.thumbprint ?? null;
  const result: InstallResult = {
    siteId: req.site.id,
    status: 'failed',
    fingerprint: req.site.fingerprint ?? null,
    previousFingerprint: req.site.fingerprint ?? null,
    backups: previous ? [`Cert:\\LocalMachine\\My\\${previous}`] : [],
  };
  const progress = { step: 'key-request' as InstallStep };
  let bound = false;
  try {
    const csrPem = req.csrPem ?? (await requestIisCsr(req.conn, req.subject));
    progress.step = 'sign';
    const signed = await req.signer.sign(csrPem.trim());
    const fingerprint = leafFingerprint(signed.certificatePem)!;

    progress.step = 'place';
    bound = true;
    await runScript(req.conn, bindScript(req.site, signed.certificatePem, null), 'place');

    progress.step = 'confirm';
    const now = iisSites(await runScript(req.conn, IIS_DISCOVER_SCRIPT, 'confirm')).find(
      (s) => s.id === req.site.id,
    );
    if (now?.fingerprint !== fingerprint) {
      throw new StepError(
        'confirm',
        `binding ${req.site.id} shows ${now?.fingerprint ?? 'no certificate'}, not ${fingerprint}`,
      );
    }
    log.info({ fingerprint }, 'certificate bound in IIS');
    return {
      ...result,
      status: 'installed',
      fingerprint,
      notAfter: new X509Certificate(signed.certificatePem).validTo,
    };
  } catch (err) {
    const step = err instanceof StepError ? err.step : progress.step;
    let note = '';
    if (bound && previous) {
      note = await runScript(req.conn, bindScript(req.site, null, previous), 'place')
        .then(() => `; binding restored to ${previous}`)
        .catch((e: Error) => `; ROLLBACK INCOMPLETE: ${e.message}`);
    }
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

/** Has the node make a key (not exportable) and a CSR with certreq; returns the CSR. */
export async function requestIisCsr(
  conn: WinRmConnection,
  subject: CertificateSubject,
): Promise<string> {
  return (await runScript(conn, requestScript(subject), 'key-request')).trim();
}

async function runScript(
  conn: WinRmConnection,
  script: string,
  step: InstallStep,
): Promise<string> {
  const r = await conn.runPowerShell(script);
  if (r.exitCode !== 0) {
    throw new StepError(
      step,
      `PowerShell on ${conn.label} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}`,
    );
  }
  return r.stdout;
}
