import type { F5Client } from '../installers/f5-client.ts';
import { siteId, type ListenAddress, type Site } from './site.ts';

interface CertKeyChain {
  name: string;
  cert?: string;
  key?: string;
  chain?: string;
}

interface ClientSslProfile {
  name: string;
  fullPath: string;
  certKeyChain?: CertKeyChain[];
}

interface VirtualServer {
  name: string;
  destination: string;
  profilesReference?: { items?: Array<{ fullPath: string; context?: string }> };
}

interface CertObject {
  fullPath: string;
  fingerprint?: string;
}

/** `/Common/10.1.1.1:443` or `/Common/2001:db8::1.443` (BIG-IP's IPv6 form) to an address. */
export function parseF5Destination(destination: string): ListenAddress {
  const last = destination.split('/').pop() ?? '';
  const v6 = /^(.*:.*)\.(\d+)$/.exec(last);
  if (v6) return { address: v6[1]!, port: Number(v6[2]) };
  const idx = last.lastIndexOf(':');
  return { address: last.slice(0, idx).replace(/%\d+$/, ''), port: Number(last.slice(idx + 1)) };
}

/** `SHA256/AB:CD:...` as the BIG-IP shows it, to discovery's lower-case hex. */
export function normaliseF5Fingerprint(value: string | undefined): string | null {
  if (!value || !value.startsWith('SHA256/')) return null;
  return value.slice(7).replace(/:/g, '').toLowerCase();
}

/** Client-SSL profiles of a BIG-IP as sites, with the virtual servers that use them. */
export async function discoverF5Sites(client: F5Client): Promise<Site[]> {
  const profiles = await client.get<{ items?: ClientSslProfile[] }>(
    '/mgmt/tm/ltm/profile/client-ssl',
  );
  const virtuals = await client.get<{ items?: VirtualServer[] }>(
    '/mgmt/tm/ltm/virtual?expandSubcollections=true',
  );
  const certs = await client.get<{ items?: CertObject[] }>('/mgmt/tm/sys/crypto/cert');
  const fingerprints = new Map((certs.items ?? []).map((c) => [c.fullPath, c.fingerprint]));

  return (profiles.items ?? []).flatMap((p) => {
    const chain = p.certKeyChain?.[0];
    if (!chain?.cert) return [];
    const listen = (virtuals.items ?? [])
      .filter((v) => v.profilesReference?.items?.some((i) => i.fullPath === p.fullPath))
      .map((v) => parseF5Destination(v.destination));
    const names = [p.fullPath];
    return [
      {
        id: siteId('f5', names, listen),
        server: 'f5' as const,
        configFile: p.fullPath,
        listen,
        serverNames: names,
        certPath: chain.cert,
        keyPath: chain.key,
        chainPath: chain.chain && chain.chain !== 'none' ? chain.chain : undefined,
        fingerprint: normaliseF5Fingerprint(fingerprints.get(chain.cert)),
      },
    ];
  });
}
