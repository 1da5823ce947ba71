import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { siteId, type Site } from './site.ts';

type Attrs = Record<string, string | undefined>;
type XmlNode = Attrs & Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  isArray: (name) => ['Service', 'Connector', 'SSLHostConfig', 'Certificate'].includes(name),
});

function list(value: unknown): XmlNode[] {
  return Array.isArray(value) ? (value as XmlNode[]) : [];
}

/**
 * Reads the TLS connectors of a Tomcat server.xml: the nested `SSLHostConfig/Certificate`
 * form (PEM files or a keystore) and the older attributes on the Connector itself.
 * `${catalina.base}` and relative paths resolve against the directory above conf/.
 */
export function tomcatSites(xml: string, file: string): Site[] {
  const doc = parser.parse(xml) as { Server?: { Service?: unknown } };
  const base = path.dirname(path.dirname(file));
  const sites: Site[] = [];
  for (const service of list(doc.Server?.Service)) {
    for (const connector of list(service.Connector)) {
      sites.push(...connectorSites(connector, file, base));
    }
  }
  return sites;
}

function connectorSites(c: XmlNode, file: string, base: string): Site[] {
  const hostConfigs = list(c.SSLHostConfig);
  const enabled = String(c.SSLEnabled ?? '').toLowerCase() === 'true';
  if (!enabled && hostConfigs.length === 0) return [];
  const listen = [{ address: c.address ?? '*', port: Number(c.port) }];
  const resolve = (p: string | undefined) =>
    p ? path.resolve(base, p.replace(/\$\{catalina\.(base|home)\}/g, base)) : undefined;

  const certs: Array<{ names: string[]; cert: Attrs }> = hostConfigs.length
    ? hostConfigs.flatMap((h) =>
        list(h.Certificate).map((cert) => ({ names: [h.hostName ?? '_default_'], cert })),
      )
    : [{ names: ['_default_'], cert: legacyAttributes(c) }];

  return certs.map(({ names, cert }) => {
    const keystore = cert.certificateKeystoreFile;
    return {
      id: siteId('tomcat', names, listen),
      server: 'tomcat' as const,
      configFile: file,
      listen,
      serverNames: names,
      certPath: resolve(cert.certificateFile),
      keyPath: resolve(cert.certificateKeyFile),
      chainPath: resolve(cert.certificateChainFile),
      ...(keystore
        ? { keystore: { path: resolve(keystore)!, type: cert.certificateKeystoreType ?? 'JKS' } }
        : {}),
    };
  });
}

// Tomcat 8.5 and older: keystoreFile / SSLCertificateFile directly on the Connector.
function legacyAttributes(c: XmlNode): Attrs {
  return {
    certificateFile: c.SSLCertificateFile,
    certificateKeyFile: c.SSLCertificateKeyFile,
    certificateChainFile: c.SSLCertificateChainFile,
    certificateKeystoreFile: c.keystoreFile,
    certificateKeystoreType: c.keystoreType,
  };
}
