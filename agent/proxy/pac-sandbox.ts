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
function __now(gmt) { var d = new Date(); return gmt === 'GMT'
  ? { day: d.getUTCDay(), h: d.getUTCHours(), m: d.getUTCMinutes() }
  : { day: d.getDay(), h: d.getHours(), m: d.getMinutes() }; }
function weekdayRange(a, b, gmt) { if (b === 'GMT') { gmt = b; b = undefined; }
  var t = __now(gmt).day, s = __days.indexOf(a), e = b === undefined ? s : __days.indexOf(b);
  if (s < 0 || e < 0) return false; return s <= e ? t >= s && t <= e : t >= s || t <= e; }
function timeRange() { var args = Array.prototype.slice.call(arguments); var gmt;
  if (args[args.length - 1] === 'GMT') gmt = args.pop(); var n = __now(gmt); var cur = n.h * 60 + n.m;
  if (args.length === 1) return n.h === args[0];
  if (args.length === 2) return n.h >= args[0] && n.h < args[1];
  if (args.length === 4) { var s = args[0] * 60 + args[1], e = args[2] * 60 + args[3]; return cur >= s && cur < e; }
  return false; }
// TODO: dateRange is not implemented and always answers false, so a PAC file that picks a
// proxy by date takes its other branch.
function dateRange() { return false; }
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

  evaluate(url: string, host: string, dns: Record<string, string>): Promise<string> {
    const id = this.nextId++;
    return this.request(id, { id, url, host, dns });
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
    `PAC file ${origin} failed while ${e.step}: ${e.name ?? 'Error'}: ${e.message}; fix the PAC file`,
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
      ? `PAC file ${origin} used more than ${PAC_HEAP_MB} MB of memory and was stopped; fix the PAC file`
      : `PAC file ${origin} crashed its sandbox: ${err.message}; fix the PAC file`,
    oom ? 'pac-memory' : 'pac-invalid',
    { cause: err },
  );
}
