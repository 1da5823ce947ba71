import { describe, expect, it } from 'vitest';
import { BootstrapUsageError, parseBootstrapArguments } from '../../bootstrap/arguments.ts';
import { quoteMsiProperty, splitWindowsCommandLine } from '../../bootstrap/command-line.ts';

/** Parses a raw Windows command line the way the bootstrap sees it once Windows split it. */
function parseLine(line: string) {
  return parseBootstrapArguments(splitWindowsCommandLine(line));
}

describe('bootstrap command line', () => {
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ['no arguments installs with UI', '', { action: 'install', quiet: false }],
    ['/i /q silent install', '/i /q', { action: 'install', quiet: true }],
    ['options are case-insensitive and accept -', '-I /Q', { action: 'install', quiet: true }],
    ['/qn is silent too', '/i /qn', { quiet: true }],
    ['/x uninstalls', '/x /q', { action: 'uninstall', quiet: true }],
    ['/? asks for help', '/?', { action: 'help' }],
    ['/l takes the next word', '/i /l C:\\t\\setup.log', { logFile: 'C:\\t\\setup.log' }],
    ['/l*v style modifiers', '/l*v "C:\\my logs\\a.log"', { logFile: 'C:\\my logs\\a.log' }],
    ['/l without value is ignored', '/i /l /q', { logFile: undefined, quiet: true }],
    ['/l at the end is ignored', '/i /l', { logFile: undefined }],
    ['/source takes a URL', '/source http://127.0.0.1:8/d', { source: 'http://127.0.0.1:8/d' }],
    ['/source without value is ignored', '/source /q', { source: undefined, quiet: true }],
  ];
  it.each(cases)('%s', (_title, line, expected) => {
    const parsed = parseLine(line) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(expected)) expect(parsed[key]).toEqual(value);
  });

  const properties: Array<[string, string, Record<string, string>]> = [
    [
      'plain values',
      'PROPERTY_TOKEN=abc PROPERTY_PROXY_PORT=3128',
      {
        PROPERTY_TOKEN: 'abc',
        PROPERTY_PROXY_PORT: '3128',
      },
    ],
    [
      'quoted value with spaces',
      'PROPERTY_PROXY_PASSWORD="two words"',
      {
        PROPERTY_PROXY_PASSWORD: 'two words',
      },
    ],
    [
      'doubled quotes inside quotes',
      'PROPERTY_PROXY_PASSWORD="say ""hi"" now"',
      {
        PROPERTY_PROXY_PASSWORD: 'say "hi" now',
      },
    ],
    [
      'backslash-escaped quote',
      'PROPERTY_PROXY_USER="dom\\\\user\\"x"',
      {
        PROPERTY_PROXY_USER: 'dom\\\\user"x',
      },
    ],
    [
      'backslashes not before a quote stay',
      'PROPERTY_PROXY_DOMAIN=CORP\\\\X',
      {
        PROPERTY_PROXY_DOMAIN: 'CORP\\\\X',
      },
    ],
    ['names are upper-cased', 'property_token=t', { PROPERTY_TOKEN: 't' }],
    ['empty switch is kept (means no)', 'PROPERTY_AUTOUPDATE=', { PROPERTY_AUTOUPDATE: '' }],
    ['= inside a value', 'PROPERTY_PROXY_PASSWORD=a=b', { PROPERTY_PROXY_PASSWORD: 'a=b' }],
  ];
  it.each(properties)('properties: %s', (_title, line, expected) => {
    expect(Object.fromEntries(parseLine(line).properties)).toEqual(expected);
  });

  it('ignores a value property given without a value', () => {
    const parsed = parseLine('/i /q PROPERTY_TOKEN=t PROPERTY_PROXY_HOST= PROPERTY_PROXY_PORT=""');
    expect([...parsed.properties.keys()]).toEqual(['PROPERTY_TOKEN']);
  });

  const refused: Array<[string, string, RegExp]> = [
    ['unknown option', '/i /frobnicate', /unknown option "\/frobnicate"/],
    ['stray word', '/i setup.msi', /unexpected argument "setup.msi"/],
    ['both /i and /x', '/i /x', /either \/i or \/x/],
  ];
  it.each(refused)('refuses %s', (_title, line, message) => {
    expect(() => parseLine(line)).toThrow(BootstrapUsageError);
    expect(() => parseLine(line)).toThrow(message);
  });

  it('quotes property values so a quoted command line reads back what was given', () => {
    const values = ['two words', 'say "hi"', '""', 'ünï cödé', 'a=b c'];
    for (const value of values) {
      const line = quoteMsiProperty('PROPERTY_PROXY_PASSWORD', value);
      expect(splitWindowsCommandLine(line)).toEqual([`PROPERTY_PROXY_PASSWORD=${value}`]);
    }
  });

  // msiexec reads backslashes in property values literally (INSTALLDIR="C:\\dir\\" is
  // the documented form) and only doubles quotes, unlike the C runtime.
  const msiQuoting: Array<[string, string]> = [
    ['C:\\dir\\', 'P="C:\\dir\\"'],
    ['a\\"b', 'P="a\\""b"'],
    ['', 'P=""'],
  ];
  it.each(msiQuoting)('quotes %j for msiexec as %s', (value, expected) => {
    expect(quoteMsiProperty('P', value)).toBe(expected);
  });
});
