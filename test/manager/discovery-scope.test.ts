import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAgent, managerMain, tempDir } from '../support/manager.ts';

// `discovery add` must refuse what the agent would reject, with the agent's own message.
const AGENT_CLI = path.resolve('bin/certagent.mjs');
let dataDir: string;
let agentBase: string;

beforeAll(async () => {
  dataDir = tempDir('scope');
  agentBase = tempDir('scope-agent');
  await addAgent(dataDir, 'scope-agent');
});

afterAll(() => {
  for (const d of [dataDir, agentBase]) fs.rmSync(d, { recursive: true, force: true });
});

async function agentMessage(args: string[]): Promise<string> {
  const res = await execa('node', [AGENT_CLI, '--base-dir', agentBase, 'discover', ...args], {
    reject: false,
  });
  expect(res.exitCode).toBe(2);
  return res.stderr.replace(/^certagent: /, '').trim();
}

async function tasksOf(): Promise<unknown[]> {
  const res = await managerMain(['tasks', 'list', '--data', dataDir, '--json']);
  expect(res.exitCode).toBe(0);
  return JSON.parse(res.stdout) as unknown[];
}

describe('certagent-manager discovery add validates like the agent', () => {
  it.each([
    ['a prefix longer than 32', ['127.0.0.0/33'], ['--ports', '443']],
    ['an IPv6 range of more than 2^32 addresses', ['::/0'], ['--ports', '443']],
    ['an address as SNI', ['127.0.0.1'], ['--ports', '443', '--sni', '127.0.0.1']],
    ['a reversed range', ['10.0.0.9-10.0.0.1'], ['--ports', '443']],
    ['a reversed port range', ['127.0.0.1'], ['--ports', '9000-8000']],
  ])('refuses %s with exit 2 and the agent message', async (_t, targets, rest) => {
    const expected = await agentMessage([...targets, ...rest]);
    const before = await tasksOf();

    const res = await managerMain([
      'discovery',
      'add',
      '--data',
      dataDir,
      '--agent',
      'scope-agent',
      '--targets',
      targets.join(','),
      ...rest,
    ]);

    expect(res.exitCode).toBe(2);
    expect(res.stdout).not.toMatch(/queued/);
    expect(res.stderr).toContain(expected);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(await tasksOf()).toEqual(before);
  });

  it('queues a scope the agent accepts (IPv6, CIDR, name, port ranges)', async () => {
    const res = await managerMain([
      'discovery',
      'add',
      '--data',
      dataDir,
      '--agent',
      'scope-agent',
      '--targets',
      '[::1], 10.0.0.0/30, host.example',
      '--ports',
      '443, 8000-8002',
      '--sni',
      'www.example',
      '--json',
    ]);

    expect(res.stderr).toBe('');
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ agent: 'scope-agent', state: 'queued' });
  });
});
