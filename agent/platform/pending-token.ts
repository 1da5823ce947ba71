import fs from 'node:fs';
import path from 'node:path';
import type { AgentFiles } from '../config/agent-files.ts';
import { SecretBox } from '../config/secret-box.ts';
import { writeFileAtomic } from '../config/atomic-file.ts';

/**
 * An installer token not used yet (the manager was down, or the CA file not in place), kept
 * sealed beside the configuration so that it outlives the MSI's registry values: a major
 * upgrade removes the old product's values and writes the new ones empty when run without
 * properties, which would otherwise lose a token that never registered. Removed as soon as
 * registration succeeds or the agent turns out to be registered already.
 */
export interface PendingToken {
  token: string;
  /** The PROPERTY_SERVER_CA file to trust the manager with, when the installer gave one. */
  caFile?: string;
}

const SEAL_CONTEXT = 'installer-token';

export function pendingTokenFile(files: AgentFiles): string {
  return path.join(path.dirname(files.config), 'pending-registration.json');
}

/** The kept token, or undefined when there is none or it cannot be opened any more. */
export function readPendingToken(files: AgentFiles): PendingToken | undefined {
  let stored: { token?: string; caFile?: string };
  try {
    stored = JSON.parse(fs.readFileSync(pendingTokenFile(files), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof stored.token !== 'string') return undefined;
  try {
    const token = SecretBox.open(files.secretKey).open(stored.token, SEAL_CONTEXT);
    return { token, caFile: typeof stored.caFile === 'string' ? stored.caFile : undefined };
  } catch {
    // A lost or replaced secret.key: the token is gone; a new install with a token is needed.
    return undefined;
  }
}

export function savePendingToken(files: AgentFiles, pending: PendingToken): void {
  const sealed = SecretBox.open(files.secretKey).seal(pending.token, SEAL_CONTEXT);
  const file = pendingTokenFile(files);
  const body = `${JSON.stringify({ token: sealed, caFile: pending.caFile }, null, 2)}\n`;
  writeFileAtomic(file, body);
}

export function removePendingToken(files: AgentFiles): void {
  fs.rmSync(pendingTokenFile(files), { force: true });
}
