import { parseUpdateHoldPayload, type UpdateHoldItem } from '../../protocol/update-hold.ts';
import type { TaskHandler } from '../service/task-handlers.ts';
import { buildIdentity } from '../version.ts';
import { loadUpdateState, saveUpdateState } from './update-state.ts';

/**
 * The agent side of the manager's "hold at version": records the hold in the update state
 * (the updater then installs nothing else) and confirms what it now holds.
 */
export function updateHoldHandler(
  stateFile: string,
  installed = buildIdentity().version,
): TaskHandler {
  return async (task, ctx) => {
    const { version } = parseUpdateHoldPayload(task.payload);
    const state = await loadUpdateState(stateFile);
    state.holdVersion = version ?? undefined;
    await saveUpdateState(stateFile, state);

    ctx.log.info(
      { holdVersion: version },
      version ? 'updates held by the manager' : 'update hold released',
    );
    const item: UpdateHoldItem = { heldAt: version, installed };
    ctx.emit([item]);
  };
}
