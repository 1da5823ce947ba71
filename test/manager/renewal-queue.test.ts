import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueRenewals } from '../../manager/nodes/installs-command.ts';
import { nodeJobs, parseRenewalOptions } from '../../manager/nodes/node-jobs.ts';
import {
  addInstall,
  addNode,
  listInstalls,
  updateInstall,
} from '../../manager/nodes/node-store.ts';
import { addAgent } from '../../manager/store/agents.ts';
import { openDatabase, type Db } from '../../manager/store/database.ts';
import { listTasks } from '../../manager/store/tasks.ts';
import { createManagerLogger } from '../../manager/server/manager-logger.ts';

// Which installed certificates the renewal job picks, straight on a manager database.

const DAY = 86_400_000;

describe('renewal queue', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-renewal-'));
  let db: Db;
  let agentId: string;

  const installed = (site: string, expiresInDays: number) => {
    const row = addInstall(db, 'web1', site, undefined);
    updateInstall(db, row.id, {
      state: 'installed',
      not_after: new Date(Date.now() + expiresInDays * DAY).toISOString(),
    });
    return row.id;
  };

  beforeAll(() => {
    db = openDatabase(dir);
    agentId = addAgent(db, { name: 'a1' }).agent.id;
    addNode(db, agentId, {
      name: 'web1',
      host: '127.0.0.1',
      connection: 'local',
    } as Parameters<typeof addNode>[2]);
  });

  afterAll(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('queues only certificates within the horizon, once, with a node task', () => {
    const due = installed('nginx:due:443', 5);
    installed('nginx:later:443', 60);
    const queued = queueRenewals(db, 30);
    expect(queued.map((i) => i.renewal_of)).toEqual([due]);
    expect(listTasks(db, agentId).filter((t) => t.kind === 'node-install')).toHaveLength(1);
    expect(queueRenewals(db, 30)).toEqual([]);
  });

  it('holds back a renewal that failed recently for the job, not for "installs renew"', () => {
    const [renewal] = listInstalls(db).filter((i) => i.renewal_of);
    updateInstall(db, renewal!.id, { state: 'failed', error: 'deploy: node down' });
    expect(queueRenewals(db, 30, new Date(), { failedRetryMs: DAY })).toEqual([]);
    // A day later the job tries again; by hand it is tried at once.
    expect(
      queueRenewals(db, 30, new Date(Date.now() + DAY + 1000), { failedRetryMs: DAY }),
    ).toHaveLength(1);
  });

  it('fails a leftover signing row that kept no CSR, with what to do', async () => {
    const row = addInstall(db, 'web1', 'nginx:lost:443', undefined);
    updateInstall(db, row.id, { state: 'signing' });
    const log = createManagerLogger(dir);
    const [job] = nodeJobs(db, parseRenewalOptions('30', '3600000'), log);
    await job!.run();
    const after = listInstalls(db).find((i) => i.id === row.id)!;
    expect(after.state).toBe('failed');
    expect(after.error).toMatch(/kept no CSR; run "install add" again/);
  });

  it.each([
    ['89', '100', true],
    ['90', '100', false],
    ['-1', '100', false],
    ['1.5', '100', false],
    ['30', '99', false],
    ['30', 'hourly', false],
  ])('parses --renew-days %s --renew-interval %s', (days, interval, ok) => {
    const parse = () => parseRenewalOptions(days, interval);
    if (ok) expect(parse()).toEqual({ renewDays: Number(days), renewIntervalMs: Number(interval) });
    else expect(parse).toThrow(/--renew-(days|interval) must be an integer/);
  });
});
