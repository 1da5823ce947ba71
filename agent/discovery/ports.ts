import * as scope from '../../protocol/scan-scope.ts';
import type { PortRange } from '../../protocol/scan-scope.ts';
import { asUsageError } from './targets.ts';

export type { PortRange } from '../../protocol/scan-scope.ts';

/**
 * Parses a port list such as `443`, `443,8443` or `8000-8100,9443`. Throws a one-line
 * UsageError naming the bad part, so the CLI can exit 2 without a stack trace.
 */
export function parsePorts(input: string): PortRange[] {
  return asUsageError(() => scope.parsePorts(input));
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
