import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { AGENT_RUNTIME_FLAGS } from '../packaging/sea/runtime-flags.ts';

/** What one run of a scanner measured. */
export interface RunResult {
  seconds: number;
  /** Endpoints for which the tool reported a certificate. */
  found: number;
  /** The run hit its deadline and was killed: `seconds` is a lower bound. */
  killed: boolean;
  /** Peak resident memory of the scanner process, when sampled. */
  peakRssMb?: number;
}

export interface ScanRequest {
  host: string;
  /** A target expression for the tool; the plain host by default. */
  target?: string;
  ports: number[];
  concurrency: number;
  timeoutMs: number;
  deadlineSeconds: number;
}

const ROOT = path.resolve(import.meta.dirname, '..');
const BARE_LOOP = path.join(ROOT, 'bench', 'bare-tls-loop.ts');

/**
 * `certagent discover --json` from `executable`, counting endpoints with a chain. A `.cjs`
 * bundle is run by this Node with the flags the single executable carries in its SEA
 * config; anything else is taken to be a built single executable and run as it is.
 */
export async function runCertagent(
  executable: string,
  req: ScanRequest,
  output: 'count' | 'discard' = 'count',
) {
  const discover = [
    'discover',
    req.target ?? req.host,
    '--ports',
    req.ports.join(','),
    '--json',
    '--concurrency',
    String(req.concurrency),
    '--timeout',
    String(req.timeoutMs),
  ];
  const [file, args] = executable.endsWith('.cjs')
    ? [process.execPath, [...AGENT_RUNTIME_FLAGS, executable, ...discover]]
    : [executable, discover];
  return timed(
    file,
    args,
    req.deadlineSeconds,
    output,
    (stdout) => stdout.split('\n').filter((line) => line.includes('"chain":[{')).length,
  );
}

/** `nmap -Pn --script ssl-cert`, counting the ssl-cert script results in its XML. */
export async function runNmap(req: ScanRequest) {
  const args = [
    '-Pn',
    '-n',
    '-p',
    req.ports.join(','),
    '--script',
    'ssl-cert',
    '--min-parallelism',
    String(req.concurrency),
    '--max-parallelism',
    String(req.concurrency),
    '-oX',
    '-',
    req.host,
  ];
  return timed(
    'nmap',
    args,
    req.deadlineSeconds,
    'count',
    (stdout) => stdout.split('id="ssl-cert"').length - 1,
  );
}

/** The bare `tls.connect` loop, which prints its own count. */
export async function runBareLoop(req: ScanRequest) {
  const args = [
    '--import',
    'tsx',
    BARE_LOOP,
    req.host,
    req.ports.join(','),
    String(req.concurrency),
  ];
  return timed(process.execPath, args, req.deadlineSeconds, 'count', (stdout) => Number(stdout));
}

async function timed(
  file: string,
  args: string[],
  deadlineSeconds: number,
  output: 'count' | 'discard',
  count: (stdout: string) => number,
): Promise<RunResult> {
  const started = performance.now();
  const child = execa(file, args, {
    cwd: ROOT,
    reject: false,
    timeout: deadlineSeconds * 1000,
    stdout: output === 'discard' ? 'ignore' : 'pipe',
    maxBuffer: 512 * 1024 * 1024,
  });
  const sampler = sampleRss(child.pid);
  const result = await child;
  const seconds = (performance.now() - started) / 1000;
  const peakRssMb = sampler.stop();

  if (!result.timedOut && result.exitCode !== 0) {
    throw new Error(
      `${path.basename(file)} ${args.slice(0, 3).join(' ')} failed: ${result.stderr}`,
    );
  }
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  return { seconds, found: stdout ? count(stdout) : 0, killed: result.timedOut, peakRssMb };
}

// VmHWM is the kernel's own high-water mark of resident memory, so sampling it often
// enough to catch the last value before exit gives the true peak.
function sampleRss(pid: number | undefined) {
  let peakKb = 0;
  const read = () => {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // The process has exited; the last sample stands.
    }
  };
  const timer = setInterval(read, 25);
  return {
    stop: () => {
      clearInterval(timer);
      return peakKb / 1024;
    },
  };
}
