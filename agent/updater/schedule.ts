/**
 * When the next automatic check runs: every `intervalMs`, plus a random share of
 * `jitterMs` so a fleet of agents installed together does not hit the host at once.
 */
export function nextCheckAt(
  now: Date,
  intervalMs: number,
  jitterMs: number,
  random: () => number = Math.random,
): Date {
  return new Date(now.getTime() + intervalMs + Math.floor(random() * jitterMs));
}

export const DEFAULT_INTERVAL_MS = 6 * 60 * 60_000;
export const DEFAULT_JITTER_MS = 60 * 60_000;

/**
 * Runs `check` on that schedule until stopped; the service's `run` loop starts it. A failed
 * check is only recorded (by `check` itself) and the next one is scheduled as usual.
 */
export function startUpdateSchedule(options: {
  check: () => Promise<void>;
  intervalMs?: number;
  jitterMs?: number;
  random?: () => number;
  onScheduled?: (at: Date) => void;
}): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    const at = nextCheckAt(
      new Date(),
      options.intervalMs ?? DEFAULT_INTERVAL_MS,
      options.jitterMs ?? DEFAULT_JITTER_MS,
      options.random,
    );
    options.onScheduled?.(at);
    timer = setTimeout(() => {
      void options
        .check()
        .catch(() => undefined)
        .finally(() => stopped || schedule());
    }, at.getTime() - Date.now());
    timer.unref();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
