import { TASK_KINDS } from '../../protocol/tasks.ts';
import { parseDiscoveredEndpoint, parseDiscoveryPayload } from '../../protocol/validate.ts';
import { storeEndpoint } from '../store/certificates.ts';
import type { Db } from '../store/database.ts';
import type { TaskKind } from './kinds.ts';

/** Certificate discovery: results are endpoints with their chains. */
export const discoveryKind: TaskKind = {
  name: TASK_KINDS.discovery,

  validatePayload: parseDiscoveryPayload,

  storeItems(db: Db, agentId: string, items: unknown[]): number {
    const endpoints = items.map(parseDiscoveredEndpoint);
    for (const ep of endpoints) storeEndpoint(db, agentId, ep);
    return endpoints.length;
  },

  summarise(db: Db, taskId: string) {
    const row = db
      .prepare('SELECT COALESCE(SUM(items), 0) AS n FROM result_batches WHERE task_id = ?')
      .get(taskId) as {
      n: number;
    };
    return { endpoints: row.n };
  },
};
