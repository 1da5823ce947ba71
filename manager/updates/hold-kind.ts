import { TASK_KINDS } from '../../protocol/tasks.ts';
import { parseUpdateHoldItem, parseUpdateHoldPayload } from '../../protocol/update-hold.ts';
import type { Db } from '../store/database.ts';
import type { TaskKind } from '../tasks/kinds.ts';
import { confirmHold } from './hold-store.ts';

/** Hold an agent at a version: the agent confirms what it now holds. */
export const updateHoldKind: TaskKind = {
  name: TASK_KINDS.updateHold,

  validatePayload: parseUpdateHoldPayload,

  storeItems(db: Db, agentId: string, items: unknown[]): number {
    const confirmations = items.map(parseUpdateHoldItem);
    for (const c of confirmations) confirmHold(db, agentId, c.heldAt);
    return confirmations.length;
  },

  summarise(db: Db, taskId: string) {
    const row = db
      .prepare('SELECT COUNT(*) AS n FROM result_batches WHERE task_id = ?')
      .get(taskId) as { n: number };
    return { confirmed: row.n > 0 };
  },
};
