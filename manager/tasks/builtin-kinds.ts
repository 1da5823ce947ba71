import { discoveryKind } from './discovery-kind.ts';
import { registerTaskKind } from './kinds.ts';

/** Registers the task kinds shipped with the manager. New kinds are added to this list. */
export function registerBuiltinTaskKinds(): void {
  for (const kind of [discoveryKind]) registerTaskKind(kind);
}
