import { UsageError } from '../cli/errors.ts';

/** An inclusive range of TCP ports; a single port is a range of one. */
export interface PortRange {
  first: number;
  last: number;
}

/**
 * Parses a port list such as `443`, `443,8443` or `8000-8100,9443`. Throws a one-line
 * UsageError naming the bad part, so the CLI can exit 2 without a stack trace.
 */
export function parsePorts(input: string): PortRange[] {
  const parts = input.split(',').map((p) => p.trim());
  if (input.trim() === '' || parts.some((p) => p === '')) {
    throw new UsageError(`bad port list '${input}': expected e.g. 443 or 443,8443 or 8000-8100`);
  }
  return parts.map((part) => parsePortRange(part, input));
}

function parsePortRange(part: string, input: string): PortRange {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
  if (!match) {
    throw new UsageError(`bad port '${part}' in '${input}': expected a number or FIRST-LAST`);
  }
  const first = checkPort(Number(match[1]), part);
  const last = match[2] === undefined ? first : checkPort(Number(match[2]), part);
  if (first > last) {
    throw new UsageError(`bad port range '${part}': the first port is after the last`);
  }
  return { first, last };
}

function checkPort(port: number, part: string): number {
  if (port < 1 || port > 65535) {
    throw new UsageError(`bad port '${part}': ports are 1-65535`);
  }
  return port;
}

/** Streams the ports in the order given; a port listed twice is probed once. */
export function* expandPorts(ranges: PortRange[]): Generator<number> {
  const seen = new Set<number>();
  for (const { first, last } of ranges) {
    for (let port = first; port <= last; port++) {
      if (seen.has(port)) continue;
      seen.add(port);
      yield port;
    }
  }
}

/** How many distinct ports the ranges name. */
export function countPorts(ranges: PortRange[]): number {
  let count = 0;
  for (const _ of expandPorts(ranges)) count++;
  return count;
}
