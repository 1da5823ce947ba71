import { afterAll, describe, expect, it } from 'vitest';
import { PacSandbox } from '../../agent/proxy/pac-sandbox.ts';

// PAC's clock functions against a fixed clock: Monday 15 June 2026, 12:30:45. Every call is
// checked twice: with "GMT" against that instant in UTC, and without it in local time.

const CASES: Array<[string, boolean]> = [
  // dateRange: single day, month, year
  ['dateRange(15)', true],
  ['dateRange(14)', false],
  ['dateRange("JUN")', true],
  ['dateRange("JUL")', false],
  ['dateRange(2026)', true],
  ['dateRange(2025)', false],
  // day, month and year ranges, inclusive, day/month ranges wrapping
  ['dateRange(10, 20)', true],
  ['dateRange(15, 15)', true],
  ['dateRange(16, 20)', false],
  ['dateRange(25, 5)', false],
  ['dateRange(10, 5)', true],
  ['dateRange("MAY", "JUL")', true],
  ['dateRange("JUL", "SEP")', false],
  ['dateRange("NOV", "FEB")', false],
  ['dateRange("MAR", "JAN")', true],
  ['dateRange(2025, 2027)', true],
  ['dateRange(2027, 2028)', false],
  ['dateRange(2027, 2025)', false],
  // day+month, month+year, day+month+year ranges
  ['dateRange(1, "JUN", 15, "JUN")', true],
  ['dateRange(16, "JUN", 1, "JUL")', false],
  ['dateRange(1, "DEC", 31, "JUL")', true],
  ['dateRange(1, "JUL", 14, "JUN")', false],
  ['dateRange("JAN", 2026, "JUN", 2026)', true],
  ['dateRange("JUL", 2025, "MAY", 2026)', false],
  ['dateRange(15, "JUN", 2026, 15, "JUN", 2026)', true],
  ['dateRange(16, "JUN", 2026, 1, "JAN", 2027)', false],
  ['dateRange(1, "JAN", 2020, 31, "DEC", 2030)', true],
  ['dateRange(1, "JAN", 2030, 31, "DEC", 2020)', false],
  // malformed calls answer false instead of throwing
  ['dateRange()', false],
  ['dateRange("JUNE")', false],
  ['dateRange("jun")', false],
  ['dateRange(0)', false],
  ['dateRange(1, "JUN", 2026)', false],
  ['dateRange(1, 2026)', false],
  ['dateRange("JUN", 15)', false],
  // weekdayRange
  ['weekdayRange("MON")', true],
  ['weekdayRange("TUE")', false],
  ['weekdayRange("MON", "FRI")', true],
  ['weekdayRange("TUE", "FRI")', false],
  ['weekdayRange("SAT", "MON")', true],
  ['weekdayRange("FOO")', false],
  // timeRange: end exclusive, wrapping past midnight
  ['timeRange(12)', true],
  ['timeRange(13)', false],
  ['timeRange(12, 13)', true],
  ['timeRange(11, 12)', false],
  ['timeRange(22, 13)', true],
  ['timeRange(13, 11)', false],
  ['timeRange(12, 30, 12, 31)', true],
  ['timeRange(12, 31, 13, 0)', false],
  ['timeRange(12, 30, 45, 12, 30, 46)', true],
  ['timeRange(12, 30, 46, 13, 0, 0)', false],
  ['timeRange(0, 0, 0, 0, 0, 30)', false],
  ['timeRange(1, 2, 3)', false],
  ['timeRange("noon")', false],
];

const sandboxes: PacSandbox[] = [];
afterAll(() => Promise.all(sandboxes.map((s) => s.close())));

/** Evaluates every case in one sandbox; "GMT" appended to each call when gmt. */
async function answers(gmt: boolean, now: number): Promise<Record<string, boolean>> {
  const calls = CASES.map(([call]) =>
    gmt ? call.replace(/\)$/, (call.endsWith('()') ? '' : ', ') + '"GMT")') : call,
  );
  const source =
    `var calls = [${calls.map((c) => `function () { return ${c}; }`).join(',\n')}];\n` +
    'function FindProxyForURL() { return JSON.stringify(calls.map(function (f) { return f(); ' +
    '})); }';
  const sandbox = await PacSandbox.compile(source, 'clock.pac', '10.0.0.1');
  sandboxes.push(sandbox);
  const results = JSON.parse(await sandbox.evaluate('https://x.test/', 'x.test', {}, now));
  return Object.fromEntries(CASES.map(([call], i) => [call, results[i]]));
}

const expected = Object.fromEntries(CASES);

describe('PAC dateRange, weekdayRange, timeRange', () => {
  it('answer per the Netscape definition in GMT', async () => {
    expect(await answers(true, Date.UTC(2026, 5, 15, 12, 30, 45))).toEqual(expected);
  });

  it('answer per the Netscape definition in local time', async () => {
    expect(await answers(false, new Date(2026, 5, 15, 12, 30, 45).getTime())).toEqual(expected);
  });

  it('tell GMT from local time when they fall on different days', async () => {
    // 23:30 UTC on the 15th is the 16th from UTC+1 on, and the 15th from UTC-1 on.
    const now = Date.UTC(2026, 5, 15, 23, 30);
    const local = new Date(now);
    const source =
      'function FindProxyForURL() { return [dateRange(15, "GMT"), dateRange(' +
      `${local.getDate()}), timeRange(23, "GMT"), timeRange(${local.getHours()})].join(); }`;
    const sandbox = await PacSandbox.compile(source, 'clock.pac', '10.0.0.1');
    sandboxes.push(sandbox);
    expect(await sandbox.evaluate('https://x.test/', 'x.test', {}, now)).toBe(
      'true,true,true,true',
    );
  });
});
