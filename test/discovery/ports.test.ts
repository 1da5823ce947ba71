import { describe, expect, it } from 'vitest';
import { UsageError } from '../../agent/cli/errors.ts';
import { countPorts, expandPorts, parsePorts } from '../../agent/discovery/ports.ts';

describe('port parsing', () => {
  const valid: Array<[string, number[]]> = [
    ['443', [443]],
    ['1', [1]],
    ['65535', [65535]],
    ['443,8443', [443, 8443]],
    [' 443 , 8443 ', [443, 8443]],
    ['8000-8003', [8000, 8001, 8002, 8003]],
    ['443,8000-8001,9443', [443, 8000, 8001, 9443]],
    ['443,443,440-444', [443, 440, 441, 442, 444]],
    ['7-7', [7]],
  ];
  it.each(valid)('accepts %j', (input, expected) => {
    expect([...expandPorts(parsePorts(input))]).toEqual(expected);
  });

  const invalid: Array<[string, RegExp]> = [
    ['', /bad port list ''/],
    ['0', /ports are 1-65535/],
    ['65536', /ports are 1-65535/],
    ['443,', /bad port list/],
    [',443', /bad port list/],
    ['https', /bad port 'https'/],
    ['-1', /bad port '-1'/],
    ['10-5', /first port is after the last/],
    ['1-2-3', /bad port '1-2-3'/],
    ['443.5', /bad port/],
    ['1e3', /bad port/],
    ['100000', /bad port/],
    ['80 443', /bad port/],
  ];
  it.each(invalid)('rejects %j with a one-line UsageError', (input, message) => {
    expect(() => parsePorts(input)).toThrow(UsageError);
    expect(() => parsePorts(input)).toThrow(message);
  });

  it('counts the whole port space once', () => {
    expect(countPorts(parsePorts('1-65535,443'))).toBe(65535);
  });
});
