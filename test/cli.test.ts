import { describe, expect, it } from 'vitest';
import pkg from '../package.json' with { type: 'json' };
import { runAgentMain } from './support/agent-main.ts';

const run = runAgentMain;

describe('certagent command line', () => {
  it('prints the package version', async () => {
    const res = await run(['version', '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.out).version).toBe(pkg.version);
  });

  it('exits 2 with a hint on an unknown command', async () => {
    const res = await run(['no-such-verb']);
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/unknown command 'no-such-verb'/);
    expect(res.err).toMatch(/--help/);
  });

  it('answers --help with exit 0', async () => {
    const res = await run(['--help']);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/Usage: certagent/);
  });
});
