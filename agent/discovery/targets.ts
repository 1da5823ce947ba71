import * as scope from '../../protocol/scan-scope.ts';
import type { TargetSpec } from '../../protocol/scan-scope.ts';
import { UsageError } from '../cli/errors.ts';

// The syntax lives in protocol/ so the manager validates with it too; here it becomes a
// UsageError (exit 2), and the ranges are walked.
export type { TargetSpec } from '../../protocol/scan-scope.ts';
export { addressToBigInt, countTargets, formatAddress } from '../../protocol/scan-scope.ts';

/** One host to probe: the name as the operator wrote it, or an address of a range. */
export interface Target {
  host: string;
  /** Set when the target is already an address; names are resolved by the probe. */
  address: string | null;
}

/** Parses every target up front, so bad input stops the scan before the first probe. */
export function parseTargets(inputs: string[]): TargetSpec[] {
  return asUsageError(() => scope.parseTargets(inputs));
}

/** Parses one target: name, IPv4/IPv6 address, CIDR, or `first-last` address range. */
export function parseTarget(input: string): TargetSpec {
  return asUsageError(() => scope.parseTarget(input));
}

/** Runs a scope parser, turning its syntax error into a UsageError with the same message. */
export function asUsageError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof scope.ScanScopeError) throw new UsageError(err.message);
    throw err;
  }
}

/** Streams the targets one by one; ranges are walked, never expanded into an array. */
export function* expandTargets(specs: Iterable<TargetSpec>): Generator<Target> {
  for (const spec of specs) {
    if (spec.kind === 'name') {
      yield { host: spec.name, address: null };
      continue;
    }
    for (let n = spec.first; n <= spec.last; n++) {
      const address = scope.formatAddress(n, spec.family);
      yield { host: address, address };
    }
  }
}
