/**
 * The `update-hold` task: the manager holds an agent at its installed version (or
 * releases the hold). The agent answers with one item saying what it now holds.
 */
export interface UpdateHoldPayload {
  /** The version to stay at, or null to release the hold. */
  version: string | null;
}

export interface UpdateHoldItem {
  heldAt: string | null;
  installed: string;
}

import { ProtocolError } from './validate.ts';

const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** Checks a payload from either side of the wire; throws a message naming the field. */
export function parseUpdateHoldPayload(payload: unknown): UpdateHoldPayload {
  const version = (payload as { version?: unknown } | null)?.version;
  if (version === null || (typeof version === 'string' && VERSION.test(version))) {
    return { version };
  }
  throw new ProtocolError(
    'update-hold payload: "version" must be a version like 1.2.3, or null',
    'version',
  );
}

export function parseUpdateHoldItem(item: unknown): UpdateHoldItem {
  const o = item as { heldAt?: unknown; installed?: unknown } | null;
  const heldAt = o?.heldAt;
  if ((heldAt === null || typeof heldAt === 'string') && typeof o?.installed === 'string') {
    return { heldAt, installed: o.installed.slice(0, 64) };
  }
  throw new ProtocolError(
    'update-hold result: expected { heldAt: string | null, installed: string }',
    'heldAt',
  );
}
