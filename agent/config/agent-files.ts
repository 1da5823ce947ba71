import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { AgentPaths } from './paths.ts';

/** Every file the agent keeps under its base directory, in one place. */
export interface AgentFiles {
  /** conf/agent.json: the agent's configuration (secrets sealed by secret-box). */
  config: string;
  /** conf/secret.key: AES-256 key for secret-box, mode 0600. */
  secretKey: string;
  /** conf/agent.key: the agent's private key (PKCS#8 PEM), mode 0600. */
  identityKey: string;
  /** conf/agent.pem: the client certificate the manager issued. */
  identityCert: string;
  /** conf/manager-ca.pem: the manager's agent CA, as returned at registration. */
  managerCa: string;
  /**
   * conf/server-ca.pem: the CA given with `register --ca`, trusted for the server's
   * certificate.
   */
  serverCa: string;
  /** queue/: result batches waiting for the manager's acknowledgement. */
  queueDir: string;
  /** The control socket of the running service (named pipe on Windows). */
  controlSocket: string;
}

export function agentFiles(paths: AgentPaths): AgentFiles {
  return {
    config: path.join(paths.conf, 'agent.json'),
    secretKey: path.join(paths.conf, 'secret.key'),
    identityKey: path.join(paths.conf, 'agent.key'),
    identityCert: path.join(paths.conf, 'agent.pem'),
    managerCa: path.join(paths.conf, 'manager-ca.pem'),
    serverCa: path.join(paths.conf, 'server-ca.pem'),
    queueDir: path.join(paths.base, 'queue'),
    controlSocket: controlSocketPath(paths),
  };
}

// Windows has no Unix sockets in a directory; a named pipe derived from the base dir keeps
// two agents with different base dirs apart. Unix socket paths are limited to ~104 bytes,
// so a long base dir falls back to a private per-user directory under the temp dir (the
// control server and client both refuse it unless it is owned by them and mode 0700).
function controlSocketPath(paths: AgentPaths): string {
  const digest = crypto.createHash('sha256').update(paths.base).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\certagent-${digest}`;
  const inBase = path.join(paths.base, 'run', 'control.sock');
  if (Buffer.byteLength(inBase) < 100) return inBase;
  const uid = process.getuid?.() ?? 0;
  return path.join(os.tmpdir(), `certagent-${uid}-${digest}`, 'control.sock');
}
