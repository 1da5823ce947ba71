import path from 'node:path';
import type { NodeSpec } from '../../protocol/node-tasks.ts';
import { UsageError } from '../cli/errors.ts';
import type { StorePool } from '../credstores/store-pool.ts';
import { F5Client } from '../installers/f5-client.ts';
import type { Connection, NodeCredentials } from './connection.ts';
import { HostKeyPins } from './host-key-pins.ts';
import { LocalConnection } from './local.ts';
import { SshConnection } from './ssh.ts';
import { WinRmConnection } from './winrm.ts';

/** A node reached through one of the four connection kinds. */
export type NodeHandle =
  | { kind: 'posix'; conn: Connection; sudo: boolean }
  | { kind: 'winrm'; conn: WinRmConnection }
  | { kind: 'rest'; client: F5Client };

/** What opening a node needs from the running service. */
export interface NodeEnv {
  /** The agent's conf directory (SSH host key pins live there). */
  confDir: string;
  /** The service's open stores: one login per store, through the proxy when use_proxy. */
  stores: StorePool;
}

/** Reads the node's login from the agent's credential store; it never leaves the agent. */
export async function nodeCredentials(spec: NodeSpec, stores: StorePool): Promise<NodeCredentials> {
  if (!spec.credstore || !spec.secret) {
    throw new UsageError(
      `node ${spec.name} (${spec.connection}) names no credential store and secret`,
    );
  }
  return stores.credential(spec.credstore, spec.secret);
}

export async function openNode(spec: NodeSpec, env: NodeEnv): Promise<NodeHandle> {
  if (spec.connection === 'local')
    return { kind: 'posix', conn: new LocalConnection(), sudo: false };
  const credentials = await nodeCredentials(spec, env.stores);
  switch (spec.connection) {
    case 'ssh': {
      const pins = new HostKeyPins(path.join(env.confDir, 'known-nodes.json'));
      const conn = await SshConnection.open({
        host: spec.host,
        port: spec.port,
        credentials,
        pins,
      });
      return { kind: 'posix', conn, sudo: credentials.username !== 'root' };
    }
    case 'winrm':
      return {
        kind: 'winrm',
        conn: new WinRmConnection({
          host: spec.host,
          port: spec.port,
          https: spec.https,
          auth: spec.winrmAuth ?? 'ntlm',
          credentials,
          ca: spec.ca,
        }),
      };
    case 'rest': {
      const client = new F5Client({ host: spec.host, port: spec.port, credentials, ca: spec.ca });
      await client.login();
      return { kind: 'rest', client };
    }
  }
}

export async function closeNode(node: NodeHandle): Promise<void> {
  if (node.kind === 'rest') await node.client.close();
  else await node.conn.close();
}
