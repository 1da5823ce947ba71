import { describe, expect, it } from 'vitest';
import { UsageError } from '../../agent/cli/errors.ts';
import {
  countTargets,
  expandTargets,
  parseTargets,
  type Target,
} from '../../agent/discovery/targets.ts';

function hosts(inputs: string[], limit = 1000): string[] {
  const out: string[] = [];
  for (const t of expandTargets(parseTargets(inputs))) {
    out.push(t.host);
    if (out.length >= limit) break;
  }
  return out;
}

describe('target parsing', () => {
  const valid: Array<[string, string[], string[]]> = [
    ['an IPv4 address', ['10.1.2.3'], ['10.1.2.3']],
    ['a host name', ['web-01.example.test'], ['web-01.example.test']],
    ['a trailing-dot name', ['example.test.'], ['example.test']],
    ['a single-label name', ['localhost'], ['localhost']],
    ['an IPv6 address', ['::1'], ['::1']],
    ['a bracketed IPv6 address', ['[fe80::1]'], ['fe80::1']],
    ['an IPv6 address in long form', ['2001:db8:0:0:0:0:0:1'], ['2001:db8::1']],
    ['a /30', ['192.168.0.4/30'], ['192.168.0.4', '192.168.0.5', '192.168.0.6', '192.168.0.7']],
    ['a CIDR with host bits set', ['192.168.0.6/31'], ['192.168.0.6', '192.168.0.7']],
    ['a /32', ['10.0.0.1/32'], ['10.0.0.1']],
    ['a full range', ['10.0.0.254-10.0.1.1'], ['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1']],
    ['a last-octet range', ['10.0.0.1-3'], ['10.0.0.1', '10.0.0.2', '10.0.0.3']],
    ['an IPv6 range', ['fd00::fe-fd00::100'], ['fd00::fe', 'fd00::ff', 'fd00::100']],
    ['an IPv6 /127', ['fd00::/127'], ['fd00::', 'fd00::1']],
    ['an IPv4-mapped IPv6', ['::ffff:10.0.0.1'], ['::ffff:a00:1']],
    ['a comma list', ['10.0.0.1,host.test', '::2'], ['10.0.0.1', 'host.test', '::2']],
  ];
  it.each(valid)('accepts %s', (_title, input, expected) => {
    expect(hosts(input)).toEqual(expected);
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['an empty target', '', /no targets|empty target/],
    ['an octet over 255', '10.0.0.256', /bad target '10.0.0.256'/],
    ['a short dotted quad', '10.0.0', /bad target/],
    ['a prefix over 32', '10.0.0.0/33', /prefix of 0-32/],
    ['a prefix over 128', '::/129', /prefix of 0-128/],
    ['a non-numeric prefix', '10.0.0.0/x', /bad CIDR/],
    ['a CIDR on a name', 'host.test/24', /bad CIDR/],
    ['a backwards range', '10.0.0.9-10.0.0.1', /first address is after the last/],
    ['a mixed-family range', '10.0.0.1-::1', /one family/],
    ['a last octet over 255', '10.0.0.1-300', /bad address range/],
    ['a three-part range', '10.0.0.1-10.0.0.2-10.0.0.3', /bad address range/],
    ['a name with spaces', 'bad host', /bad target/],
    ['a name with a slashless port', 'host.test:443', /bad target/],
    ['a label ending in a hyphen', 'bad-.test', /bad target/],
    ['a label over 63 characters', `${'a'.repeat(64)}.test`, /bad target/],
    ['an IPv6 range too large', 'fd00::/64', /more than 2\^32/],
    ['a shell metacharacter', 'host;rm', /bad target/],
  ];
  it.each(invalid)('rejects %s with a one-line UsageError', (_title, input, message) => {
    let caught: unknown;
    try {
      parseTargets([input]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toContain('\n');
  });

  it('accepts the whole IPv4 space as a range without expanding it', () => {
    const specs = parseTargets(['0.0.0.0/0']);
    expect(countTargets(specs)).toBe(2n ** 32n);
    const first: Target[] = [];
    for (const t of expandTargets(specs)) {
      first.push(t);
      if (first.length === 3) break;
    }
    expect(first.map((t) => t.address)).toEqual(['0.0.0.0', '0.0.0.1', '0.0.0.2']);
  });

  it('streams a /8 lazily: the generator yields before holding the range', () => {
    const gen = expandTargets(parseTargets(['10.0.0.0/8']));
    expect(gen.next().value).toEqual({ host: '10.0.0.0', address: '10.0.0.0' });
    expect(gen.next().value?.host).toBe('10.0.0.1');
  });

  it('walks the end of a /16 correctly', () => {
    const all = hosts(['127.1.0.0/16'], 70_000);
    expect(all).toHaveLength(65_536);
    expect(all.at(-1)).toBe('127.1.255.255');
    expect(new Set(all).size).toBe(65_536);
  });

  it('leaves names unresolved and addresses resolved', () => {
    const [name, address] = [...expandTargets(parseTargets(['db.test', '10.0.0.1']))];
    expect(name).toEqual({ host: 'db.test', address: null });
    expect(address).toEqual({ host: '10.0.0.1', address: '10.0.0.1' });
  });
});
