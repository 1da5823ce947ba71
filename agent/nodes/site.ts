/** The web servers node discovery recognises. */
export type ServerType = 'nginx' | 'apache' | 'tomcat' | 'iis' | 'f5';

export interface ListenAddress {
  /** `*` when the server listens on every address. */
  address: string;
  port: number;
}

/** One TLS site a node serves, and where its certificate and key live. */
export interface Site {
  /** Stable name for `install add --site`: `<server>:<first name>:<port>`. */
  id: string;
  server: ServerType;
  /** The file holding the site's definition (symlinks resolved when the node allows it). */
  configFile: string;
  /** 1-based line of the definition in configFile, when known. */
  line?: number;
  listen: ListenAddress[];
  serverNames: string[];
  certPath?: string;
  keyPath?: string;
  /** A separate chain file (Apache SSLCertificateChainFile, Tomcat certificateChainFile). */
  chainPath?: string;
  /** Keystore-based sites (Tomcat JKS/PKCS12) name the store instead of PEM files. */
  keystore?: { path: string; type: string };
  /** IIS: the site name and `IP:port:host` binding the certificate is bound to. */
  binding?: { site: string; information: string };
  /** IIS: the machine store and thumbprint the binding uses. */
  store?: { name: string; thumbprint: string };
  /** SHA-256 of the leaf certificate's DER, lower-case hex; null when it could not be read. */
  fingerprint?: string | null;
  /** Why a part of the site could not be resolved (a variable in a path, an unreadable file). */
  notes?: string[];
}

export function siteId(server: ServerType, names: string[], listen: ListenAddress[]): string {
  return `${server}:${names[0] ?? '_'}:${listen[0]?.port ?? 0}`;
}
