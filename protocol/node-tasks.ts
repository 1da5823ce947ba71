/**
 * Task kinds of node discovery and certificate installation (issue 7), shared by the agent
 * and the manager. An installation takes two tasks with the manager's CA in between:
 * `node-install` makes the key and CSR (the key stays with the agent or the node) and
 * reports the CSR; the manager signs it and queues `node-install-finish` with the
 * certificate, which the agent places, checks and reports.
 */
export const NODE_TASK_KINDS = {
  discover: 'node-discovery',
  install: 'node-install',
  finish: 'node-install-finish',
} as const;

export type NodeConnectionKind = 'local' | 'ssh' | 'winrm' | 'rest';

/** How the agent reaches a node; credentials are a reference into the agent's store. */
export interface NodeSpec {
  name: string;
  connection: NodeConnectionKind;
  host: string;
  port?: number;
  credstore?: string;
  secret?: string;
  /** Command prefixes for non-standard server layouts, e.g. `{ "nginx": ["nginx","-c","/x"] }`. */
  commands?: Record<string, string[]>;
  /** WinRM: `ntlm` (default) or `basic`, and whether to use HTTPS. */
  winrmAuth?: 'ntlm' | 'basic';
  https?: boolean;
  /** PEM the node's management interface (REST, WinRM HTTPS) presents, to trust it. */
  ca?: string;
}

export interface NodeDiscoveryPayload {
  node: NodeSpec;
}

export interface NodeInstallPayload {
  installId: string;
  node: NodeSpec;
  siteId: string;
  subject?: { commonName: string; altNames: string[] };
}

export interface NodeInstallFinishPayload extends NodeInstallPayload {
  certificate: string;
  chain: string[];
}

/** Result items: a discovered site, a CSR for the CA, or the outcome of an installation. */
export type NodeResultItem =
  | { type: 'site'; node: string; site: Record<string, unknown> }
  | { type: 'csr'; installId: string; csr: string }
  | { type: 'installed'; installId: string; result: Record<string, unknown> };
