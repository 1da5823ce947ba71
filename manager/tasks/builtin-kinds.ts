import { discoveryKind } from './discovery-kind.ts';
import { registerTaskKind } from './kinds.ts';
import { NODE_KINDS } from '../nodes/node-kinds.ts';
import { updateHoldKind } from '../updates/hold-kind.ts';

/** Registers the task kinds shipped with the manager. New kinds are added to this list. */
export function registerBuiltinTaskKinds(): void {
  for (const kind of [discoveryKind, updateHoldKind, ...NODE_KINDS]) registerTaskKind(kind);
}
