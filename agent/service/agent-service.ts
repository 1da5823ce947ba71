import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { TaskMessage } from '../../protocol/messages.ts';
import type { AgentConfig } from '../config/agent-config.ts';
import type { AgentFiles } from '../config/agent-files.ts';
import type { ControlServer } from '../control/control-server.ts';
import { storeDepsFor } from '../credstores/store-deps.ts';
import { StorePool } from '../credstores/store-pool.ts';
import { buildIdentity } from '../version.ts';
import { Backoff } from './backoff.ts';
import { ManagerRejectedError, type ManagerClient } from './manager-client.ts';
import { ResultQueue } from './result-queue.ts';
import { taskHandler, type TaskPaths } from './task-handlers.ts';

/** What `certagent status` shows about the connection, served over the control socket. */
export interface ServiceStatus {
  pid: number;
  /** The version of the running service itself, which may differ from the CLI asking. */
  version: string;
  server: string;
  connected: boolean;
  lastHeartbeatAt: string | null;
  lastError: string | null;
  queuedBatches: number;
  runningTasks: string[];
}

const DEFAULT_INTERVAL_MS = 30_000;
const PERMANENT_REJECTIONS = new Set([400, 404, 413, 422]);

/**
 * The agent's service loop: heartbeat, send queued results, take new tasks, sleep; on any
 * failure back off and try again. Tasks run beside the loop so a long scan never delays
 * a heartbeat; their results go to the disk queue first and leave it only when the
 * manager acknowledges them.
 */
export class AgentService {
  private readonly queue: ResultQueue;
  private readonly paths: TaskPaths;
  private readonly stores: StorePool;
  private readonly backoff = new Backoff();
  private readonly active = new Map<string, Promise<void>>();
  private finished: Set<string>;
  private flushing?: Promise<void>;
  private intervalMs = DEFAULT_INTERVAL_MS;
  private failures = 0;
  private status: Omit<ServiceStatus, 'version' | 'queuedBatches' | 'runningTasks'>;

  constructor(
    private readonly client: ManagerClient,
    files: AgentFiles,
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {
    this.queue = new ResultQueue(files.queueDir);
    // agentFiles() puts agent.json in the conf dir and queue/ in the base dir: the paths
    // the service was started with (--base-dir wins over CERTAGENT_BASE_DIR).
    this.paths = { base: path.dirname(files.queueDir), conf: path.dirname(files.config) };
    const conf = this.paths.conf;
    this.stores = new StorePool(() => storeDepsFor(conf, log));
    this.finished = this.queue.finishedTaskIds();
    this.status = {
      pid: process.pid,
      server: client.serverUrl,
      connected: false,
      lastHeartbeatAt: null,
      lastError: null,
    };
  }

  /** Registers the service's control methods (`service.status`). */
  attachControl(control: ControlServer): void {
    control.handle('service.status', () => this.currentStatus());
  }

  currentStatus(): ServiceStatus {
    return {
      ...this.status,
      version: buildIdentity().version,
      queuedBatches: this.queue.pending().length,
      runningTasks: [...this.active.keys()],
    };
  }

  /** Runs until `signal` aborts; tasks in flight are abandoned and rerun after a restart. */
  async run(signal: AbortSignal): Promise<void> {
    this.log.info(
      { server: this.client.serverUrl, agentId: this.config.agentId },
      'service started',
    );
    while (!signal.aborted) {
      const wait = await this.cycle(signal);
      await sleep(wait, undefined, { signal }).catch(() => undefined);
    }
    await Promise.allSettled(this.active.values());
    await this.stores
      .close()
      .catch((err: unknown) => this.log.warn({ err }, 'closing the credential stores failed'));
    this.log.info('service stopped');
  }

  /** One round trip with the manager; returns how long to wait before the next one. */
  private async cycle(signal: AbortSignal): Promise<number> {
    try {
      const hb = await this.client.heartbeat({
        version: buildIdentity().version,
        queuedBatches: this.queue.pending().length,
      });
      this.intervalMs = hb.heartbeatIntervalMs;
      this.markConnected(true);

      await this.flush();
      const { tasks } = await this.client.tasks();
      this.startTasks(tasks, signal);
      this.backoff.reset();
      return this.intervalMs;
    } catch (err) {
      this.markConnected(false, err);
      return this.backoff.next();
    }
  }

  private markConnected(connected: boolean, err?: unknown): void {
    if (connected) {
      if (!this.status.connected)
        this.log.info({ server: this.client.serverUrl }, 'connected to the management server');
      this.failures = 0;
    } else {
      this.logFailure(err);
    }
    this.status.connected = connected;
    if (connected) this.status.lastHeartbeatAt = new Date().toISOString();
    this.status.lastError = err ? (err as Error).message : connected ? null : this.status.lastError;
  }

  /**
   * The first failure of a streak is logged at once (a service that never connects must say
   * why); later ones only on powers of two, so a long outage does not flood agent.log.
   * Errors carry only the URL and the cause, never credentials.
   */
  private logFailure(err: unknown): void {
    this.failures += 1;
    if ((this.failures & (this.failures - 1)) !== 0) return;
    this.log.warn(
      { server: this.client.serverUrl, err, failures: this.failures },
      'management server unreachable; retrying with backoff',
    );
  }

  private startTasks(tasks: TaskMessage[], signal: AbortSignal): void {
    // Forget finished tasks the manager no longer lists: their final batch was acknowledged.
    const listed = new Set(tasks.map((t) => t.id));
    this.finished = new Set([...this.finished].filter((id) => listed.has(id)));
    for (const task of tasks) {
      if (this.active.has(task.id) || this.finished.has(task.id)) continue;
      const run = this.runTask(task, signal).finally(() => this.active.delete(task.id));
      this.active.set(task.id, run);
    }
  }

  private async runTask(task: TaskMessage, signal: AbortSignal): Promise<void> {
    const log = this.log.child({ taskId: task.id, kind: task.kind });
    log.info('task started');
    const emit = (items: unknown[]) => {
      this.queue.enqueue({ taskId: task.id, items, final: false });
      void this.flush().catch(() => undefined);
    };

    let error: string | undefined;
    try {
      const handler = taskHandler(task.kind);
      if (!handler)
        throw new Error(
          `this agent (version ${buildIdentity().version}) ` +
            `cannot run tasks of kind "${task.kind}"; update it`,
        );
      await handler(task, { log, signal, emit, paths: this.paths, stores: this.stores });
    } catch (err) {
      error = (err as Error).message;
    }
    // Stopped mid-task: no final batch, so the task runs again after the restart.
    if (signal.aborted) return;

    this.queue.enqueue({ taskId: task.id, items: [], final: true, error });
    this.finished.add(task.id);
    if (error) log.warn({ err: error }, 'task failed');
    else log.info('task finished');
    await this.flush().catch(() => undefined);
  }

  /** Sends queued batches oldest first; one flush at a time, others wait for it. */
  private flush(): Promise<void> {
    this.flushing ??= this.sendQueued().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async sendQueued(): Promise<void> {
    for (const file of this.queue.pending()) {
      const batch = this.queue.read(file);
      if (!batch) continue;
      try {
        const ack = await this.client.sendResults(batch);
        if (ack.batchId === batch.batchId) this.queue.remove(file);
      } catch (err) {
        // A batch the manager refuses as such (task deleted, malformed) will never pass:
        // set it aside (kept on disk, not resent) rather than block every later batch.
        // Authentication failures and server errors are retried with the rest.
        if (!(err instanceof ManagerRejectedError) || !PERMANENT_REJECTIONS.has(err.status))
          throw err;
        this.log.error(
          { err, batchId: batch.batchId, taskId: batch.taskId },
          'manager rejected a result batch; kept aside',
        );
        this.queue.setAside(file);
      }
    }
  }
}
