import { Worker } from 'node:worker_threads';
import { OperationalError } from '../cli/errors.ts';

/**
 * Why node:vm and not pac-resolver: pac-resolver 8 evaluates PAC files in QuickJS, which
 * it expects the caller to load from quickjs-wasi, a separate .wasm file read from disk at
 * run time. esbuild cannot fold that file into the single-executable bundle, so the
 * agent and the bootstrap could not carry it. Instead the PAC script runs in a worker
 * thread with a heap limit, inside a fresh V8 context that holds no object of the agent's
 * realm (null-prototype global, PAC helpers written as source inside it, DNS answers
 * passed as plain data), with string code generation (eval, Function) disabled and a CPU
 * time limit on every call. The worker's code is a plain string so that it survives
 * bundling unchanged.
 */

/** Time a PAC script may run, per evaluation. */
export const PAC_TIMEOUT_MS = 1000;
/** Heap a PAC script may use before its worker is stopped. */
export const PAC_HEAP_MB = 32;

// PAC's standard functions (Netscape/Microsoft definitions), written to run inside the
// sandbox. dnsResolve answers from __dns, filled by the caller before each evaluation.
const PAC_HELPERS = String.raw`
function isPlainHostName(h) { return String(h).indexOf('.') < 0; }
function dnsDomainIs(h, d) { h = String(h).toLowerCase(); d = String(d).toLowerCase();
  return h.length >= d.length && h.substring(h.length - d.length) === d; }
function localHostOrDomainIs(h, hd) { h = String(h).toLowerCase(); hd = String(hd).toLowerCase();
  return h === hd || (isPlainHostName(h) && hd.split('.')[0] === h); }
function dnsDomainLevels(h) { return String(h).split('.').length - 1; }
function __isIp(h) { return /^\d{1,3}(\.\d{1,3}){3}$/.test(String(h)); }
function dnsResolve(h) { if (__isIp(h)) return String(h);
  var a = __dns[String(h).toLowerCase()]; return a === undefined ? null : a; }
function isResolvable(h) { return dnsResolve(h) !== null; }
function myIpAddress() { return __myIp; }
function __ipNum(ip) { var p = String(ip).split('.'); var n = 0;
  for (var i = 0; i < 4; i++) n = n * 256 + (parseInt(p[i], 10) || 0); return n; }
function isInNet(h, pattern, mask) { var ip = dnsResolve(h); if (ip === null || !__isIp(ip)) return false;
  var m = __ipNum(mask); return (__ipNum(ip) & m) >>> 0 === (__ipNum(pattern) & m) >>> 0; }
function shExpMatch(s, exp) { var re = '^' + String(exp).replace(/[.+^\${}()|[\]\\]/g, '\\$&')
  .replace(/\*/g, '.*').replace(/\?/g, '.') + '$'; return new RegExp(re).test(String(s)); }
var __days = ['SUN','MON','TUE','WED','THU','FRI','SAT'];
var __months = ['JAN','FEB','MAR','APR','MAY','JUN','JUL','AUG','SEP','OCT','NOV','DEC'];
// The clock comes from the caller with each evaluation (__nowMs), local time or GMT.
function __now(gmt) { var d = new Date(__nowMs); return gmt === 'GMT'
  ? { day: d.getUTCDay(), h: d.getUTCHours(), m: d.getUTCMinutes(), s: d.getUTCSeconds(),
      date: d.getUTCDate(), month: d.getUTCMonth(), year: d.getUTCFullYear() }
  : { day: d.getDay(), h: d.getHours(), m: d.getMinutes(), s: d.getSeconds(),
      date: d.getDate(), month: d.getMonth(), year: d.getFullYear() }; }
// Strips a trailing "GMT" argument: [args, gmt].
function __gmtArgs(a) { var args = Array.prototype.slice.call(a); var gmt;
  if (args[args.length - 1] === 'GMT') gmt = args.pop(); return [args, gmt]; }
// start <= t <= end, or, when start > end, the range wraps (FRI..MON, DEC..FEB, 22..6 o'clock).
function __within(t, s, e) { return s <= e ? t >= s && t <= e : t >= s || t <= e; }
function weekdayRange(a, b, gmt) { if (b === 'GMT') { gmt = b; b = undefined; }
  var t = __now(gmt).day, s = __days.indexOf(a), e = b === undefined ? s : __days.indexOf(b);
  if (s < 0 || e < 0) return false; return __within(t, s, e); }
// timeRange(h) | (h1, h2) | (h1, m1, h2, m2) | (h1, m1, s1, h2, m2, s2) [, "GMT"]: the end is
// exclusive (timeRange(12, 13) is noon to 1 pm); an end before the start wraps past midnight.
function timeRange() { var g = __gmtArgs(arguments), args = g[0], n = __now(g[1]);
  for (var i = 0; i < args.length; i++) if (typeof args[i] !== 'number' || args[i] !== Math.floor(args[i])) return false;
  var cur = n.h * 3600 + n.m * 60 + n.s, s, e;
  if (args.length === 1) return n.h === args[0];
  if (args.length === 2) { s = args[0] * 3600; e = args[1] * 3600; }
  else if (args.length === 4) { s = args[0] * 3600 + args[1] * 60; e = args[2] * 3600 + args[3] * 60; }
  else if (args.length === 6) { s = args[0] * 3600 + args[1] * 60 + args[2]; e = args[3] * 3600 + args[4] * 60 + args[5]; }
  else return false;
  if (s === e) return false;
  return s < e ? cur >= s && cur < e : cur >= s || cur < e; }
// One dateRange argument: a day of month (1-31), a month name, or a four-digit year.
function __dateField(v) { if (typeof v === 'number' && v === Math.floor(v)) {
    if (v >= 1 && v <= 31) return { kind: 'd', v: v }; if (v >= 1000) return { kind: 'y', v: v }; return null; }
  var m = __months.indexOf(v); return m < 0 ? null : { kind: 'm', v: m }; }
// A point of one half of the arguments as a number ordered like the calendar (year, month,
// day), using only the fields given; null when the half is not one of the Netscape forms.
function __datePoint(fields) { var kinds = fields.map(function (f) { return f.kind; }).join('');
  if (['d', 'm', 'y', 'dm', 'my', 'dmy'].indexOf(kinds) < 0) return null;
  var p = { d: 0, m: 0, y: 0 }; fields.forEach(function (f) { p[f.kind] = f.v; });
  return { kinds: kinds, at: function (q) { return (kinds.indexOf('y') >= 0 ? q.y : 0) * 10000 +
    (kinds.indexOf('m') >= 0 ? q.m : 0) * 100 + (kinds.indexOf('d') >= 0 ? q.d : 0); }, p: p }; }
// dateRange(day | month | year), the same as two-value ranges, (day1, month1, day2, month2),
// (month1, year1, month2, year2), (day1, month1, year1, day2, month2, year2) [, "GMT"].
// Ranges are inclusive; day and month ranges without a year wrap (DEC..FEB, 25..5).
function dateRange() { var g = __gmtArgs(arguments), args = g[0], n = __now(g[1]);
  if (args.length < 1 || args.length > 6) return false;
  var fields = args.map(__dateField); if (fields.indexOf(null) >= 0) return false;
  var half = args.length === 1 ? 1 : args.length / 2; if (half !== Math.floor(half)) return false;
  var a = __datePoint(fields.slice(0, half)), b = __datePoint(args.length === 1 ? fields : fields.slice(half));
  if (a === null || b === null || a.kinds !== b.kinds) return false;
  var cur = a.at({ d: n.date, m: n.month, y: n.year }), s = a.at(a.p), e = a.at(b.p);
  if (s > e && a.kinds.indexOf('y') >= 0) return false; return __within(cur, s, e); }
function alert() {}
`;

// The worker: compiles the PAC file once, then answers {id, url, host, dns} messages.
const WORKER_SOURCE = String.raw`
const vm = require('node:vm');
const { parentPort, workerData } = require('node:worker_threads');
const { source, origin, myIp, helpers, timeoutMs } = workerData;
const sandbox = Object.create(null);
const context = vm.createContext(sandbox, { name: 'pac', codeGeneration: { strings: false, wasm: false } });
sandbox.__myIp = myIp;
sandbox.__dns = {};
sandbox.__nowMs = Date.now();
const failure = (step, e) => ({ error: { step, name: String((e && e.name) || 'Error'),
  message: String((e && e.message) || e), code: e && e.code } });
let broken;
try { vm.runInContext(helpers, context, { timeout: timeoutMs }); } catch (e) { broken = failure('loading helpers', e); }
if (!broken) {
  try { vm.runInContext(source, context, { filename: origin, timeout: timeoutMs }); }
  catch (e) { broken = failure('loading', e); }
}
if (!broken && vm.runInContext('typeof FindProxyForURL', context) !== 'function') {
  broken = { error: { step: 'loading', code: 'no-function' } };
}
const call = new vm.Script('String(FindProxyForURL(__url, __host))');
parentPort.postMessage({ id: 0, ...(broken || { result: 'ready' }) });
parentPort.on('message', (m) => {
  try {
    sandbox.__dns = vm.runInContext('JSON.parse(' + JSON.stringify(JSON.stringify(m.dns)) + ')', context);
    sandbox.__nowMs = Number(m.now);
    sandbox.__url = String(m.url);
    sandbox.__host = String(m.host);
    parentPort.postMessage({ id: m.id, result: call.runInContext(context, { timeout: timeoutMs }) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ...failure('evaluating', e) });
  }
});
`;

interface WorkerAnswer {
  id: number;
  result?: string;
  error?: { step: string; name?: string; message?: string; code?: string };
}

/** A compiled PAC file in its own worker; evaluate() answers FindProxyForURL(url, host). */
export class PacSandbox {
  private nextId = 1;
  private readonly pending = new Map<number, (answer: WorkerAnswer) => void>();
  private dead?: OperationalError;

  private constructor(
    private readonly worker: Worker,
    readonly origin: string,
  ) {
    worker.on('message', (answer: WorkerAnswer) => this.pending.get(answer.id)?.(answer));
    worker.on('error', (err: Error & { code?: string }) => this.stop(workerError(origin, err)));
    worker.on('exit', () =>
      this.stop(new OperationalError(`PAC worker for ${origin} stopped`, 'pac-invalid')),
    );
    worker.unref();
  }

  /** Compiles a PAC file's source; rejects with a clear error when it cannot be used. */
  static async compile(source: string, origin: string, myIp: string): Promise<PacSandbox> {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { source, origin, myIp, helpers: PAC_HELPERS, timeoutMs: PAC_TIMEOUT_MS },
      resourceLimits: { maxOldGenerationSizeMb: PAC_HEAP_MB, maxYoungGenerationSizeMb: 8 },
      stdout: true,
      stderr: true,
    });
    const sandbox = new PacSandbox(worker, origin);
    try {
      await sandbox.request(0, undefined);
    } catch (err) {
      await sandbox.close();
      throw err;
    }
    return sandbox;
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** `now` is the clock seen by dateRange/weekdayRange/timeRange (ms since the epoch). */
  evaluate(
    url: string,
    host: string,
    dns: Record<string, string>,
    now = Date.now(),
  ): Promise<string> {
    const id = this.nextId++;
    return this.request(id, { id, url, host, dns, now });
  }

  async close(): Promise<void> {
    this.dead ??= new OperationalError(`PAC sandbox for ${this.origin} closed`, 'pac-closed');
    await this.worker.terminate();
  }

  private request(id: number, message: object | undefined): Promise<string> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      // The vm timeout bounds the script; this bounds the worker itself (a stuck thread).
      const timer = setTimeout(() => {
        this.stop(timeoutError(this.origin, 'evaluating'));
        void this.worker.terminate();
      }, PAC_TIMEOUT_MS * 5);
      this.pending.set(id, (answer) => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (answer.error) reject(answerError(this.origin, answer.error));
        else resolve(String(answer.result));
      });
      if (message) this.worker.postMessage(message);
    });
  }

  private stop(err: OperationalError): void {
    this.dead ??= err;
    for (const settle of [...this.pending.values()]) {
      settle({ id: -1, error: { step: 'evaluating', code: 'dead', message: this.dead.message } });
    }
  }
}

function answerError(origin: string, e: NonNullable<WorkerAnswer['error']>): OperationalError {
  if (e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return timeoutError(origin, e.step);
  if (e.code === 'no-function') {
    return new OperationalError(
      `PAC file ${origin} defines no FindProxyForURL(url, host) function; fix the PAC file or ` +
        'set a proxy host and port instead',
      'pac-invalid',
    );
  }
  if (e.code === 'dead')
    return new OperationalError(e.message ?? 'PAC worker stopped', 'pac-invalid');
  return new OperationalError(
    `PAC file ${origin} failed while ${e.step}: ` +
      `${e.name ?? 'Error'}: ${e.message}; fix the PAC file`,
    'pac-invalid',
  );
}

function timeoutError(origin: string, step: string): OperationalError {
  return new OperationalError(
    `PAC file ${origin} ran longer than ${PAC_TIMEOUT_MS} ms while ${step} (an endless ` +
      'loop?); fix the PAC file, or set a proxy host and port instead',
    'pac-timeout',
  );
}

function workerError(origin: string, err: Error & { code?: string }): OperationalError {
  const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
  return new OperationalError(
    oom
      ? `PAC file ${origin} used more than ${PAC_HEAP_MB} ` +
        `MB of memory and was stopped; fix the PAC file`
      : `PAC file ${origin} crashed its sandbox: ${err.message}; fix the PAC file`,
    oom ? 'pac-memory' : 'pac-invalid',
    { cause: err },
  );
}
