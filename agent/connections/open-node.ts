import path from 'node:path';
import type { Logger } from 'pino';
import type { NodeSpec } from '../../protocol/node-tasks.ts';
import { UsageError } from '../cli/errors.ts';
import { openStore } from '../credstores/registry.ts';
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

/** Reads the node's login from the agent's credential store; it never leaves the agent. */
export async function nodeCredentials(
  spec: NodeSpec,
  confDir: string,
  logger: Logger,
): Promise<NodeCredentials> {
  if (!spec.credstore || !spec.secret) {
    throw new UsageError(
      `node ${spec.name} (${spec.connection}) names no credential store and secret`,
    );
  }
  const store = openStore(spec.credstore, { confDir, logger });
  try {
    return await store.getCredential(spec.secret);
  } finally {
    await store.close();
  }
}

export async function openNode(
  spec: NodeSpec,
  confDir: string,
  logger: Logger,
): Promise<NodeHandle> {
  if (spec.connection === 'local')
    return { kind: 'posix', conn: new LocalConnection(), sudo: false };
  const credentials = await nodeCredentials(spec, confDir, logger);
  switch (spec.connection) {
    case 'ssh': {
      const pins = new HostKeyPins(path.join(confDir, 'known-nodes.json'));
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
