import { siteId, type Site } from './site.ts';

/** One HTTPS binding as the discovery script prints it. */
export interface IisBinding {
  site: string;
  /** `IP:port:hostheader`, e.g. `*:443:shop.example.com`. */
  bindingInformation: string;
  certificateHash?: string | null;
  certificateStoreName?: string | null;
  /** SHA-256 of the bound certificate's DER, computed on the node. */
  sha256?: string | null;
  sslFlags?: number;
}

/** Embeds parameters as a JSON literal, so no value is ever parsed as PowerShell code. */
export function psParams(marker: string, params: unknown): string {
  const json = JSON.stringify(params).replace(/'/g, "''");
  return `# certagent:${marker}\n$p = '${json}' | ConvertFrom-Json\n`;
}

/** Lists IIS HTTPS bindings with the certificate each uses, as one JSON array. */
export const IIS_DISCOVER_SCRIPT = `${psParams('iis-discover', {})}Import-Module WebAdministration
$sha = [Security.Cryptography.SHA256]::Create()
$out = foreach ($b in Get-WebBinding -Protocol https) {
  $site = ($b.ItemXPath -split "'")[1]
  $cert = $null
  if ($b.certificateHash) { $cert = Get-Item \
"Cert:\\LocalMachine\\$($b.certificateStoreName)\\$($b.certificateHash)" \
-ErrorAction SilentlyContinue }
  [pscustomobject]@{
    site = $site; bindingInformation = $b.bindingInformation; sslFlags = $b.sslFlags
    certificateHash = $b.certificateHash; certificateStoreName = $b.certificateStoreName
    sha256 = if ($cert) { -join ($sha.ComputeHash($cert.RawData) | \
ForEach-Object { $_.ToString('x2') }) } else { $null }
  }
}
ConvertTo-Json -InputObject @($out) -Compress -Depth 3
`;

/** Parses the discovery script's JSON into sites. */
export function iisSites(json: string): Site[] {
  let parsed: IisBinding[] | IisBinding;
  try {
    parsed = JSON.parse(json.trim() || '[]') as IisBinding[] | IisBinding;
  } catch (err) {
    throw new Error(
      `the IIS binding list is not JSON (${(err as Error).message}): ${json.slice(0, 120)}`,
    );
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((b) => {
    const [ip = '*', port = '443', header = ''] = b.bindingInformation.split(':');
    const listen = [{ address: ip === '' ? '*' : ip, port: Number(port) }];
    const names = header ? [header] : [b.site];
    return {
      id: siteId('iis', names, listen),
      server: 'iis' as const,
      configFile: `IIS:\\Sites\\${b.site}`,
      listen,
      serverNames: names,
      binding: { site: b.site, information: b.bindingInformation },
      ...(b.certificateHash
        ? { store: { name: b.certificateStoreName ?? 'My', thumbprint: b.certificateHash } }
        : {}),
      fingerprint: b.sha256 ?? null,
    };
  });
}
