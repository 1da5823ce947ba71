import { describe, expect, it } from 'vitest';
import { nextCheckAt, startUpdateSchedule } from '../../agent/updater/schedule.ts';

describe('update schedule', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const cases: Array<[number, string]> = [
    [0, '2026-01-01T06:00:00.000Z'],
    [0.5, '2026-01-01T06:30:00.000Z'],
    [0.999999, '2026-01-01T06:59:59.996Z'],
  ];
  it.each(cases)('random %d puts the next check at %s', (random, expected) => {
    expect(nextCheckAt(now, 6 * 3_600_000, 3_600_000, () => random).toISOString()).toBe(expected);
  });

  it('keeps checking after a failed check, and stops when told', async () => {
    const scheduled: Date[] = [];
    let calls = 0;
    const schedule = startUpdateSchedule({
      intervalMs: 1,
      jitterMs: 0,
      onScheduled: (at) => scheduled.push(at),
      check: async () => {
        calls++;
        throw new Error('host down');
      },
    });
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => calls >= 3 && (clearInterval(poll), resolve()), 5);
    });
    schedule.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(after);
    expect(scheduled.length).toBeGreaterThanOrEqual(3);
  });
});
