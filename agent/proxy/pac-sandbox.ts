import vm from 'node:vm';
import { OperationalError } from '../cli/errors.ts';

/**
 * Why node:vm and not pac-resolver: pac-resolver 8 evaluates PAC files in QuickJS, which
 * it expects the caller to load from quickjs-wasi, a separate .wasm file read from disk at
 * run time. esbuild cannot fold that file into the single-executable bundle, so the
 * agent and the bootstrap could not carry it. Instead the PAC script runs here in a
 * fresh V8 context that holds no object of the agent's realm (null-prototype global, PAC
 * helpers written as source inside it, DNS answers passed as plain data), with string
 * code generation (eval, Function) disabled and a CPU time limit on every call.
 * TODO: node:vm bounds CPU time but not memory; a PAC file that allocates without end
 * could still exhaust the heap. Running it in a worker with resourceLimits would close it.
 */

/** Time a PAC script may run, per evaluation. */
export const PAC_TIMEOUT_MS = 1000;

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
// TODO: dateRange only answers false; no PAC file seen in the field relies on it for proxies.
function dateRange() { return false; }
function alert() {}
`;

export type PacFunction = (url: string, host: string, dns: Record<string, string>) => string;

/** Compiles a PAC file's source; throws a clear error when it is not valid JavaScript. */
export function compilePac(source: string, origin: string, myIp: string): PacFunction {
  const sandbox = Object.create(null) as Record<string, unknown>;
  const context = vm.createContext(sandbox, {
    name: `pac ${origin}`,
    codeGeneration: { strings: false, wasm: false },
  });
  sandbox.__myIp = myIp;
  sandbox.__dns = {};
  runLimited(
    () => vm.runInContext(PAC_HELPERS, context, { timeout: PAC_TIMEOUT_MS }),
    origin,
    'loading helpers',
  );
  runLimited(
    () => vm.runInContext(source, context, { filename: origin, timeout: PAC_TIMEOUT_MS }),
    origin,
    'loading',
  );
  if (vm.runInContext('typeof FindProxyForURL', context) !== 'function') {
    throw new OperationalError(
      `PAC file ${origin} defines no FindProxyForURL(url, host) function; fix the PAC file or ` +
        'set a proxy host and port instead',
      'pac-invalid',
    );
  }
  const call = new vm.Script('String(FindProxyForURL(__url, __host))', {
    filename: `${origin}#call`,
  });

  return (url, host, dns) => {
    // Plain data only: a JSON round trip makes sure no object of ours enters the sandbox.
    sandbox.__dns = vm.runInContext(`JSON.parse(${JSON.stringify(JSON.stringify(dns))})`, context);
    sandbox.__url = url;
    sandbox.__host = host;
    return runLimited(
      () => call.runInContext(context, { timeout: PAC_TIMEOUT_MS }),
      origin,
      'evaluating',
    ) as string;
  };
}

function runLimited(fn: () => unknown, origin: string, step: string): unknown {
  try {
    return fn();
  } catch (err) {
    const e = err as Error & { code?: string };
    const timedOut = e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
    throw new OperationalError(
      timedOut
        ? `PAC file ${origin} ran longer than ${PAC_TIMEOUT_MS} ms while ${step} (an endless ` +
          'loop?); fix the PAC file, or set a proxy host and port instead'
        : `PAC file ${origin} failed while ${step}: ${e.name ?? 'Error'}: ${e.message}; fix the PAC file`,
      timedOut ? 'pac-timeout' : 'pac-invalid',
      { cause: err },
    );
  }
}
