import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import type { EndpointResult } from '../../discovery/endpoint.ts';
import { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS } from '../../discovery/scan-defaults.ts';

interface DiscoverOptions {
  ports: string;
  sni?: string;
  json?: boolean;
  concurrency?: string;
  timeout?: string;
  progress?: boolean;
}

export function addDiscoverCommand(program: Command, ctx: CliContext): void {
  program
    .command('discover')
    .description(
      'TLS handshakes with hosts and ranges; print each endpoint and its certificate chain',
    )
    .argument(
      '<targets...>',
      'host names, IPv4/IPv6 addresses, CIDR (10.0.0.0/24) or ranges (10.0.0.1-20)',
    )
    .requiredOption('-p, --ports <list>', 'ports, e.g. 443 or 443,8443,9000-9100')
    .option('--sni <name>', 'server name to send (default: the target name; none for addresses)')
    .option('--json', 'one JSON object per endpoint per line')
    .option('--concurrency <n>', 'handshakes in flight at once', String(DEFAULT_CONCURRENCY))
    .option(
      '--timeout <ms>',
      'per endpoint, connect and handshake together',
      String(DEFAULT_TIMEOUT_MS),
    )
    .option('--progress', 'show progress on stderr even when it is not a terminal')
    .addHelpText(
      'after',
      '\nExamples:\n  certagent discover 10.0.0.0/24 --ports ' +
        '443,8443\n  certagent discover web.example.com --ports 443 --json',
    )
    .action((targets: string[], opts: DiscoverOptions) => runDiscover(targets, opts, ctx));
}

async function runDiscover(targets: string[], opts: DiscoverOptions, ctx: CliContext) {
  const { scan } = await import('../../discovery/scan.ts');
  const { formatEndpoint } = await import('../../discovery/probe.ts');
  const controller = new AbortController();
  const progress = progressLine(ctx.stderr, opts.progress === true || isTty(ctx.stderr));
  const results = scan({
    targets,
    ports: opts.ports,
    sni: opts.sni,
    concurrency: wholeNumber(opts.concurrency, '--concurrency'),
    timeoutMs: wholeNumber(opts.timeout, '--timeout'),
    signal: controller.signal,
    onProgress: progress.update,
  });

  // Ctrl-C stops new handshakes and prints what was found so far.
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  const totals = { endpoints: 0, certificates: 0, errors: 0 };
  try {
    if (!opts.json) await write(ctx.stdout, tableHeader());
    for await (const result of results) {
      totals.endpoints++;
      if (result.chain.length > 0) totals.certificates++;
      else totals.errors++;
      progress.clear();
      const line = opts.json ? `${JSON.stringify(result)}\n` : tableRow(result, formatEndpoint);
      await write(ctx.stdout, line);
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    progress.clear();
  }
  if (!opts.json) {
    const stopped = controller.signal.aborted ? ' (interrupted)' : '';
    ctx.stderr.write(
      `${totals.endpoints} endpoints, ${totals.certificates} ` +
        `with certificates, ${totals.errors} without${stopped}\n`,
    );
  }
}

function wholeNumber(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`bad ${option} '${value}': expected a whole number`);
  return Number(value);
}

// Waits for the consumer when stdout is slow, so a /16 never piles up in memory.
async function write(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

function isTty(stream: Writable): boolean {
  return (stream as Writable & { isTTY?: boolean }).isTTY === true;
}

const COLUMNS = [30, 8, 11, 17];

function tableHeader(): string {
  return columns(['ENDPOINT', 'TLS', 'NOT AFTER', 'SHA-256', 'SUBJECT / ERROR']);
}

function tableRow(r: EndpointResult, formatEndpoint: (a: string, p: number) => string): string {
  const where = r.address ? formatEndpoint(r.address, r.port) : `${r.host}:${r.port}`;
  const endpoint = r.address && r.host !== r.address ? `${r.host} ${where}` : where;
  const leaf = r.chain[0];
  if (!leaf) {
    // The message starts with the endpoint, already in the first column.
    const message = (r.error?.message ?? '').replace(/^\S+: /, '');
    return columns([endpoint, '-', '-', '-', `${r.error?.code}: ${message}`]);
  }

  const chain = r.chain.length > 1 ? ` (+${r.chain.length - 1} in chain)` : '';
  return columns([
    endpoint,
    r.tlsVersion ?? '-',
    leaf.notAfter.slice(0, 10),
    leaf.sha256.slice(0, 16),
    `${leaf.subject}${chain}`,
  ]);
}

function columns(cells: string[]): string {
  const padded = cells.map((cell, i) => (COLUMNS[i] ? cell.padEnd(COLUMNS[i]! - 1) : cell));
  return `${padded.join(' ')}\n`;
}

// One self-overwriting line on stderr, redrawn at most five times a second.
function progressLine(stream: Writable, enabled: boolean) {
  let shown = false;
  let last = 0;
  return {
    update: (p: { done: number; found: number }) => {
      if (!enabled || Date.now() - last < 200) return;
      last = Date.now();
      shown = true;
      stream.write(`\rscanned ${p.done} endpoints, ${p.found} with certificates`);
    },
    clear: () => {
      if (!shown) return;
      shown = false;
      stream.write('\r\x1b[K');
    },
  };
}
