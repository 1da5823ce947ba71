import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointResult } from '../../agent/discovery/endpoint.ts';
import { describeWithTools } from '../support/tools.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/certagent.mjs');

// Creating a namespace needs root; CI runs as root, so there a failure is reported rather
// than skipped.
const describeAsRoot =
  process.getuid?.() === 0 || process.env.CI === 'true' ? describeWithTools : skipNotRoot;

function skipNotRoot(title: string, _tools: string[], body: () => void): void {
  describe.skip(`${title} (needs root)`, body);
}

// A network namespace of our own with only loopback up: every other address has no route,
// which is how an agent sees a network it is not connected to.
describeAsRoot('discovery of unreachable networks', ['ip'], () => {
  const namespace = `certagent-disc-${process.pid}`;

  beforeAll(async () => {
    await execa('ip', ['netns', 'add', namespace]);
    await execa('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  });

  afterAll(async () => {
    await execa('ip', ['netns', 'del', namespace], { reject: false });
  });

  async function discoverInNamespace(target: string): Promise<EndpointResult[]> {
    const args = ['netns', 'exec', namespace, process.execPath, BIN, 'discover', target];
    const res = await execa('ip', [...args, '-p', '443', '--json', '--timeout', '3000']);
    return res.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as EndpointResult);
  }

  it('reports an address without a route as unreachable', async () => {
    const [result] = await discoverInNamespace('10.255.0.1');
    expect(result!.error?.code).toBe('unreachable');
    expect(result!.error?.message).toContain('10.255.0.1:443');
  });

  it('still tells refused from unreachable inside the namespace', async () => {
    const [result] = await discoverInNamespace('127.0.0.1');
    expect(result!.error?.code).toBe('refused');
  });
});
