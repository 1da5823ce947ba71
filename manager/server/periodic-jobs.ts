import type { Logger } from 'pino';

/** Work the server does by itself, on start and then every `intervalMs`. */
export interface PeriodicJob {
  name: string;
  intervalMs: number;
  run(): Promise<void> | void;
}

export interface RunningJobs {
  /** Stops the timers and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs each job once now and then on its interval, one run of a job at a time (a slow run
 * skips the ticks that fall inside it). A failing run is logged and tried again at the
 * next tick: it never stops the server.
 */
export function startPeriodicJobs(jobs: PeriodicJob[], log: Logger): RunningJobs {
  const timers: NodeJS.Timeout[] = [];
  const running = new Map<string, Promise<void>>();

  const tick = (job: PeriodicJob) => {
    if (running.has(job.name)) return;
    const run = Promise.resolve()
      .then(() => job.run())
      .catch((err: unknown) => log.error({ err, job: job.name }, 'periodic job failed'))
      .finally(() => running.delete(job.name));
    running.set(job.name, run);
  };

  for (const job of jobs) {
    tick(job);
    const timer = setInterval(() => tick(job), job.intervalMs);
    timer.unref();
    timers.push(timer);
  }
  return {
    async stop() {
      for (const t of timers) clearInterval(t);
      await Promise.allSettled(running.values());
    },
  };
}
