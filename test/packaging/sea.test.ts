import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { describeWithTools } from '../support/tools.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';
import { bundleAgent } from '../../packaging/sea/bundle.ts';

const DEV_CA = path.resolve('.cache/authenticode-dev/dev-ca.pem');

describeWithTools('single executables', ['osslsigncode', 'strip'], () => {
  let linux: string;
  let windows: string;
  let commit: string;
  let epoch: number;

  beforeAll(async () => {
    const built = await ensureArtifacts(['sea']);
    const files = built.files.sea;
    epoch = built.sourceDateEpoch;
    linux = files.find((f) => f.endsWith('-linux-x64'))!;
    windows = files.find((f) => f.endsWith('-win-x64.exe'))!;
    commit = built.commit;
  });

  it('runs with an empty environment and reports the build identity', async () => {
    const res = await execa('env', ['-i', linux, 'version', '--json']);
    const id = JSON.parse(res.stdout);
    expect(id).toMatchObject({ name: 'certagent', commit, platform: 'linux-x64' });
    expect(id.node).toMatch(/^v22\./);
    expect(id.date).toBe(new Date(epoch * 1000).toISOString());
  });

  it('answers as certagent-config when started through a link of that name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-sea-link-'));
    fs.symlinkSync(linux, path.join(dir, 'certagent-config'));
    const res = await execa('env', ['-i', path.join(dir, 'certagent-config'), '--help']);
    fs.rmSync(dir, { recursive: true });
    expect(res.stdout).toContain('Usage: certagent-config');
  });

  it('exits 2 with a message on an unknown command, like the source tree does', async () => {
    const res = await execa('env', ['-i', linux, 'no-such-verb'], { reject: false, all: true });
    expect(res.exitCode).toBe(2);
    expect(res.all).toMatch(/unknown command/);
  });

  it('signs the Windows executable so that osslsigncode verify passes with the dev CA', async () => {
    const res = await execa('osslsigncode', ['verify', '-in', windows, '-CAfile', DEV_CA], {
      reject: false,
    });
    expect(res.stdout).toContain('Signature verification: ok');
    expect(res.exitCode).toBe(0);
  });

  it('has a Windows signature that no longer verifies once the executable is altered', async () => {
    const bad = path.join(os.tmpdir(), `certagent-tampered-${process.pid}.exe`);
    const bytes = fs.readFileSync(windows);
    bytes[4096] ^= 0x01;
    fs.writeFileSync(bad, bytes);
    const res = await execa('osslsigncode', ['verify', '-in', bad, '-CAfile', DEV_CA], {
      reject: false,
    });
    fs.rmSync(bad);
    expect(res.exitCode).not.toBe(0);
  });
});

it('bundles the agent into one CommonJS file with the build stamp and no native files', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-bundle-')), 'a.cjs');
  await bundleAgent(out, { commit: 'c0ffee', date: '2001-02-03T04:05:06.000Z' });
  const code = fs.readFileSync(out, 'utf8');
  expect(code).toContain('"c0ffee"');
  // Optional native addons (ssh2) are stubbed so their JavaScript fallback is used.
  expect(code).not.toMatch(/require\(["'][^"']+\.node["']\)/);
  const res = await execa(process.execPath, [out, 'version', '--json']);
  expect(JSON.parse(res.stdout)).toMatchObject({
    commit: 'c0ffee',
    date: '2001-02-03T04:05:06.000Z',
  });
  fs.rmSync(path.dirname(out), { recursive: true });
});
