import net from 'node:net';

/**
 * The syntax of a discovery scope: targets, ports and SNI, as `certagent discover` and
 * `certagent-manager discovery add` accept them. Pure parsing shared by the agent and the
 * manager, so the manager refuses exactly what an agent would reject; walking the ranges
 * (streaming probes) stays in agent/discovery.
 */

/** Bad scope input; the message is one line naming the bad part. */
export class ScanScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScanScopeError';
  }
}

/** A server name to send instead of the target name: a host name, never an address. */
export function parseSni(sni: string): string {
  if (sni === '' || net.isIP(sni)) {
    throw new ScanScopeError(`bad SNI '${sni}': a server name is a host name, not an address`);
  }
  return sni;
}

/**
 * One parsed target: a host name (resolved when probed) or an inclusive range of addresses
 * held as two numbers, so a /8 costs the same memory as a single address.
 */
export type TargetSpec =
  | { kind: 'name'; name: string }
  | { kind: 'range'; family: 4 | 6; first: bigint; last: bigint };

// A range bigger than an IPv4 /0 is never what an operator meant; an IPv6 /64 would run
// for longer than the universe.
const MAX_RANGE_SIZE = 2n ** 32n;

const HOST_LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/i;

/** Parses every target up front, so bad input stops the scan before the first probe. */
export function parseTargets(inputs: string[]): TargetSpec[] {
  const specs = inputs.flatMap((input) =>
    input
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map(parseTarget),
  );
  if (specs.length === 0) {
    throw new ScanScopeError('no targets given: name at least one host, address or range');
  }
  return specs;
}

/** Parses one target: name, IPv4/IPv6 address, CIDR, or `first-last` address range. */
export function parseTarget(input: string): TargetSpec {
  const text = input.trim().replace(/^\[(.*)\]$/, '$1');
  if (text === '')
    throw new ScanScopeError('empty target: give a host name, an address or a range');
  if (text.includes('/')) return parseCidr(text, input);
  if (net.isIP(text)) return single(text);
  if (text.includes('-') && looksLikeAddressRange(text)) return parseRange(text, input);
  return parseName(text, input);
}

/** How many hosts the specs name (names count as one). */
export function countTargets(specs: TargetSpec[]): bigint {
  return specs.reduce((sum, s) => sum + (s.kind === 'name' ? 1n : s.last - s.first + 1n), 0n);
}

function single(text: string): TargetSpec {
  const family = net.isIP(text) as 4 | 6;
  const n = addressToBigInt(text, family);
  return { kind: 'range', family, first: n, last: n };
}

function parseCidr(text: string, input: string): TargetSpec {
  const [address, prefixText, ...rest] = text.split('/');
  const family = net.isIP(address ?? '');
  const width = family === 6 ? 128 : 32;
  const prefix = Number(prefixText);
  if (rest.length > 0 || family === 0 || !/^\d{1,3}$/.test(prefixText ?? '') || prefix > width) {
    throw new ScanScopeError(
      `bad CIDR range '${input}': expected ADDRESS/PREFIX with a prefix of 0-${width || 32}`,
    );
  }
  const hostBits = BigInt(width - prefix);
  const mask = (1n << hostBits) - 1n;
  const n = addressToBigInt(address!, family as 4 | 6);
  return checkSize(
    { kind: 'range', family: family as 4 | 6, first: n & ~mask, last: n | mask },
    input,
  );
}

function looksLikeAddressRange(text: string): boolean {
  const [first] = text.split('-');
  return net.isIP(first ?? '') !== 0;
}

function parseRange(text: string, input: string): TargetSpec {
  const parts = text.split('-');
  const [firstText, lastText] = parts;
  const family = net.isIP(firstText!) as 4 | 6;
  const lastAddress =
    family === 4 && /^\d{1,3}$/.test(lastText ?? '')
      ? `${firstText!.split('.').slice(0, 3).join('.')}.${lastText}`
      : (lastText ?? '');
  if (parts.length !== 2 || net.isIP(lastAddress) !== family) {
    throw new ScanScopeError(
      `bad address range '${input}': expected FIRST-LAST ` +
        `of one family, e.g. 10.0.0.1-10.0.0.9 or 10.0.0.1-9`,
    );
  }
  const first = addressToBigInt(firstText!, family);
  const last = addressToBigInt(lastAddress, family);
  if (first > last) {
    throw new ScanScopeError(`bad address range '${input}': the first address is after the last`);
  }
  return checkSize({ kind: 'range', family, first, last }, input);
}

function parseName(text: string, input: string): TargetSpec {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  const labels = name.split('.');
  const valid = name.length <= 253 && labels.every((l) => HOST_LABEL.test(l));
  // An all-numeric dotted name is a mistyped address, not a host name.
  if (!valid || /^[\d.]+$/.test(name)) {
    throw new ScanScopeError(
      `bad target '${input}': not a host name, IPv4/IPv6 address, CIDR range or FIRST-LAST range`,
    );
  }
  return { kind: 'name', name };
}

function checkSize(spec: TargetSpec & { kind: 'range' }, input: string): TargetSpec {
  if (spec.last - spec.first + 1n > MAX_RANGE_SIZE) {
    throw new ScanScopeError(
      `target range '${input}' holds more than 2^32 addresses: ` +
        `split it or use a longer prefix (IPv6 /96 or more)`,
    );
  }
  return spec;
}

/** The address as a number: 32 bits for IPv4, 128 for IPv6. */
export function addressToBigInt(address: string, family: 4 | 6): bigint {
  if (family === 4) {
    return address.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
  }
  return expandIpv6(address).reduce((n, group) => (n << 16n) | BigInt(group), 0n);
}

// Eight 16-bit groups, with `::` filled in and a trailing dotted IPv4 part converted.
function expandIpv6(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = Number(addressToBigInt(v4[1]!, 4));
    text =
      text.slice(0, -v4[1]!.length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  return [...headGroups, ...Array<string>(fill).fill('0'), ...tailGroups].map((g) =>
    parseInt(g, 16),
  );
}

/** The canonical text of an address number (IPv6 compressed as Node prints it). */
export function formatAddress(n: bigint, family: 4 | 6): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((n >> shift) & 0xffn)).join('.');
  }
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => Number((n >> s) & 0xffffn));
  return compressIpv6(groups);
}

// RFC 5952: the longest run (two or more) of zero groups becomes `::`.
function compressIpv6(groups: number[]): string {
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  const head = hex.slice(0, best.start).join(':');
  const tail = hex.slice(best.start + best.length).join(':');
  return `${head}::${tail}`;
}

/** An inclusive range of TCP ports; a single port is a range of one. */
export interface PortRange {
  first: number;
  last: number;
}

/**
 * Parses a port list such as `443`, `443,8443` or `8000-8100,9443`. Throws a one-line
 * ScanScopeError naming the bad part, so the CLI can exit 2 without a stack trace.
 */
export function parsePorts(input: string): PortRange[] {
  const parts = input.split(',').map((p) => p.trim());
  if (input.trim() === '' || parts.some((p) => p === '')) {
    throw new ScanScopeError(
      `bad port list '${input}': expected e.g. 443 or 443,8443 or 8000-8100`,
    );
  }
  return parts.map((part) => parsePortRange(part, input));
}

function parsePortRange(part: string, input: string): PortRange {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
  if (!match) {
    throw new ScanScopeError(`bad port '${part}' in '${input}': expected a number or FIRST-LAST`);
  }
  const first = checkPort(Number(match[1]), part);
  const last = match[2] === undefined ? first : checkPort(Number(match[2]), part);
  if (first > last) {
    throw new ScanScopeError(`bad port range '${part}': the first port is after the last`);
  }
  return { first, last };
}

function checkPort(port: number, part: string): number {
  if (port < 1 || port > 65535) {
    throw new ScanScopeError(`bad port '${part}': ports are 1-65535`);
  }
  return port;
}
