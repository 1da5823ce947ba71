import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, tempDir } from '../support/manager.ts';

// `certagent config set` for secret keys: the value comes from stdin, never from argv.

const SECRET = 'Pr0xy-s3cret-ÄÖ';
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function newBase(): string {
  const d = tempDir('cfg-secret');
  dirs.push(d);
  return d;
}

function cli(base: string, args: string[], input?: string) {
  return execa('node', [AGENT_BIN, '--base-dir', base, ...args], {
    reject: false,
    ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
  });
}

/** Every file under dir, concatenated: the secret must be in none of them in clear. */
function allText(dir: string): string {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

describe('config set for secret keys', () => {
  it('reads the secret from stdin while it is in no process argument', async () => {
    const base = newBase();
    const child = execa(
      'node',
      [AGENT_BIN, '--base-dir', base, 'config', 'set', 'proxy.password'],
      {
        reject: false,
        stdin: 'pipe',
      },
    );
    // The process is waiting for stdin: its command line is complete and can be read.
    await new Promise((r) => setTimeout(r, 500));
    const argv = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain('proxy.password');
    expect(argv.join(' ')).not.toContain(SECRET);
    child.stdin!.end(`${SECRET}\nsecond line is ignored\n`);
    const res = await child;
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toBe('proxy.password updated');

    const stored = JSON.parse(fs.readFileSync(path.join(base, 'conf', 'agent.json'), 'utf8'));
    expect(stored.proxy.password).toMatch(/^sealed:v1:/);
    const show = await cli(base, ['config', 'show']);
    expect(JSON.parse(show.stdout).proxy.password).toBe('********');
    expect(show.stdout + show.stderr + res.stderr).not.toContain(SECRET);
    expect(allText(base)).not.toContain(SECRET);
  });

  it('takes "-" as "read from stdin", and an empty line clears the secret', async () => {
    const base = newBase();
    expect(
      (await cli(base, ['config', 'set', 'proxy.password', '-'], `${SECRET}\r\n`)).exitCode,
    ).toBe(0);
    const stored = () =>
      JSON.parse(fs.readFileSync(path.join(base, 'conf', 'agent.json'), 'utf8')).proxy;
    expect(stored().password).toMatch(/^sealed:v1:/);
    expect((await cli(base, ['config', 'set', 'proxy.password'], '\n')).exitCode).toBe(0);
    expect(stored().password).toBeUndefined();
  });

  it('refuses a secret given as an argument, with exit 2, without echoing it', async () => {
    const base = newBase();
    const res = await cli(base, ['config', 'set', 'proxy.password', SECRET]);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/proxy\.password is a secret.*give it on stdin/);
    expect(res.stdout + res.stderr).not.toContain(SECRET);
    expect(fs.existsSync(path.join(base, 'conf', 'agent.json'))).toBe(false);
    expect(allText(base)).not.toContain(SECRET);
  });

  it('refuses an empty stdin instead of clearing the secret by accident', async () => {
    const base = newBase();
    const res = await cli(base, ['config', 'set', 'proxy.password'], '');
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/no value for proxy\.password on stdin/);
  });

  it('says how to give secrets in its --help', async () => {
    const res = await cli(newBase(), ['config', 'set', '--help']);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toMatch(/Secret keys \(proxy\.password\).*never taken as an argument/s);
    expect(res.stdout).toMatch(/config set proxy\.password/);
  });
});
