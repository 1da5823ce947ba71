import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explainPermissionError } from '../../agent/config/permission-error.ts';
import { SecretBox } from '../../agent/config/secret-box.ts';
import { execa } from 'execa';
import { AGENT_BIN, agentCli, tempDir } from '../support/manager.ts';

// agent.json as an operator or a crash may leave it: damaged shapes, sealed secrets of
// other sections, and a base directory given as an empty string.

describe('agent configuration robustness', () => {
  const dirs: string[] = [];
  const baseWith = (agentJson?: string): string => {
    const base = tempDir('cfg-robust');
    dirs.push(base);
    fs.mkdirSync(path.join(base, 'conf'), { recursive: true });
    if (agentJson !== undefined) fs.writeFileSync(path.join(base, 'conf', 'agent.json'), agentJson);
    return base;
  };

  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('config show masks sealed values of every section, not only the proxy password', async () => {
    const base = baseWith();
    const box = SecretBox.open(path.join(base, 'conf', 'secret.key'));
    const config = {
      autoUpdate: false,
      proxy: { host: 'proxy.test', port: 3128, password: box.seal('pw', 'proxy.password') },
      credstores: { vault1: { kind: 'vault', token: box.seal('tok-very-secret', 'x') } },
    };
    fs.writeFileSync(path.join(base, 'conf', 'agent.json'), JSON.stringify(config));
    const res = await agentCli(base, ['config', 'show']);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).not.toContain('sealed:v1:');
    expect(res.stdout).toContain('proxy.test');
    expect(res.stdout).toContain('vault1');
  });

  it.each([
    ['null', 'top level'],
    ['[]', 'top level'],
    ['{"proxy":"x"}', '"proxy"'],
    ['{"server":5}', '"server"'],
    ['{"proxy":{"port":"abc"}}', '"proxy.port"'],
  ])(
    'refuses agent.json %s naming the file and field, and leaves it as it was',
    async (text, field) => {
      const base = baseWith(text);
      const file = path.join(base, 'conf', 'agent.json');
      for (const args of [
        ['config', 'show'],
        ['config', 'set', 'proxy.host', 'h.test'],
      ]) {
        const res = await agentCli(base, args);
        expect(res.exitCode).toBe(1);
        expect(res.stderr).toContain(file);
        expect(res.stderr).toContain(field);
      }
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
    },
  );

  it('never replaces a lost secret.key while sealed values exist', async () => {
    const base = baseWith();
    const keyFile = path.join(base, 'conf', 'secret.key');
    const config = {
      autoUpdate: false,
      proxy: { password: SecretBox.open(keyFile).seal('pw', 'proxy.password') },
    };
    const agentJson = path.join(base, 'conf', 'agent.json');
    fs.writeFileSync(agentJson, JSON.stringify(config));
    fs.rmSync(keyFile);

    // Read-only verbs create nothing.
    expect((await agentCli(base, ['config', 'show'])).exitCode).toBe(0);
    await agentCli(base, ['credstore', 'secret', 'list']);
    expect(fs.existsSync(keyFile)).toBe(false);

    // A write that needs the key refuses, names the key and what it protects.
    const res = await execa(
      'node',
      [AGENT_BIN, '--base-dir', base, 'config', 'set', 'proxy.password'],
      { input: 'new-pw\n', reject: false },
    );
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain('conf/secret.key is missing');
    expect(res.stderr).toContain(agentJson);
    expect(res.stderr).not.toContain('new-pw');
    expect(fs.existsSync(keyFile)).toBe(false);
  });

  it('creates secret.key on the first sealed value of a fresh agent', async () => {
    const base = baseWith();
    const res = await execa(
      'node',
      [AGENT_BIN, '--base-dir', base, 'config', 'set', 'proxy.password'],
      { input: 'pw\n', reject: false },
    );
    expect(res.exitCode).toBe(0);
    expect(fs.statSync(path.join(base, 'conf', 'secret.key')).size).toBe(32);
  });

  it('explains a permission error by directory and the ways out', () => {
    // Built by hand: the suite runs as root in CI, where EACCES cannot be provoked.
    const raw = Object.assign(new Error("EACCES: permission denied, mkdir '/x/conf'"), {
      code: 'EACCES',
      syscall: 'mkdir',
      path: '/x/conf',
    });
    const err = explainPermissionError(raw) as Error;
    expect(err.message).toContain('/x/conf');
    expect(err.message).toContain('run as root or the service user, or use --base-dir DIR');
    const onFile = Object.assign(new Error('EACCES'), {
      code: 'EACCES',
      syscall: 'open',
      path: '/x/conf/agent.json',
    });
    expect((explainPermissionError(onFile) as Error).message).toMatch(/^\/x\/conf /);
    const other = new Error('ENOENT');
    expect(explainPermissionError(other)).toBe(other);
  });

  it('rejects an empty --base-dir as a usage error and creates nothing', async () => {
    const cwd = tempDir('cfg-cwd');
    dirs.push(cwd);
    // Run inside a scratch directory: without the check conf/ would land in the cwd.
    const res = await execa(
      'node',
      [AGENT_BIN, '--base-dir', '', 'config', 'set', 'proxy.host', 'h.test'],
      { cwd, reject: false, stdin: 'ignore' },
    );
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('--base-dir');
    expect(fs.readdirSync(cwd)).toEqual([]);
  });
});
