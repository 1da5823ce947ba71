import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../agent/config/secret-box.ts';
import { ControlServer } from '../../agent/control/control-server.ts';
import { callControl } from '../../agent/control/control-client.ts';
import { resolvePaths } from '../../agent/config/paths.ts';
import { agentFiles } from '../../agent/config/agent-files.ts';
import { silentLogger } from '../../agent/logging/logger.ts';
import { ResultQueue } from '../../agent/service/result-queue.ts';

// Agent pieces that run without a manager: the secret box and the control socket.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-local-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('secret-box', () => {
  const keyFile = path.join(tmp, 'conf', 'secret.key');

  it('creates a 0600 32-byte key and round-trips a secret', () => {
    const box = SecretBox.open(keyFile);
    const sealed = box.seal('hunter2', 'proxy.password');
    expect(sealed).not.toContain('hunter2');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(keyFile).size).toBe(32);
    expect(SecretBox.open(keyFile).open(sealed, 'proxy.password')).toBe('hunter2');
  });

  it('refuses a tampered value, a value bound to another field and another key', () => {
    const box = SecretBox.open(keyFile);
    const sealed = box.seal('hunter2', 'a');
    const raw = Buffer.from(sealed.slice('sealed:v1:'.length), 'base64');
    raw[raw.length - 1] ^= 1;
    expect(() => box.open(`sealed:v1:${raw.toString('base64')}`, 'a')).toThrow(
      /could not be decrypted/,
    );
    expect(() => box.open(sealed, 'b')).toThrow(/could not be decrypted/);
    const other = SecretBox.open(path.join(tmp, 'other', 'secret.key'));
    other.seal('creates the other key', 'a');
    expect(() => other.open(sealed, 'a')).toThrow(/could not be decrypted/);
    expect(() => box.open('sealed:v1:AAAA', 'a')).toThrow(/truncated/);
  });

  it('refuses a key file of the wrong size', () => {
    const bad = path.join(tmp, 'short.key');
    fs.writeFileSync(bad, 'short');
    expect(() => SecretBox.open(bad)).toThrow(/expected 32/);
  });
});

describe('control socket', () => {
  const paths = resolvePaths(path.join(tmp, 'base'));
  const server = new ControlServer(agentFiles(paths).controlSocket, silentLogger());

  beforeAll(async () => {
    server.handle('test.echo', (params) => ({ echoed: params }));
    server.handle('test.fail', () => {
      throw new Error('it broke');
    });
    await server.listen();
  });
  afterAll(() => server.close());

  it('answers a registered method, owner-only', async () => {
    expect(await callControl(paths, 'test.echo', { a: 1 })).toEqual({ echoed: { a: 1 } });
    expect(fs.statSync(agentFiles(paths).controlSocket).mode & 0o777).toBe(0o600);
  });

  it('reports unknown methods and failures as errors', async () => {
    await expect(callControl(paths, 'nope')).rejects.toThrow(/unknown control method "nope"/);
    await expect(callControl(paths, 'test.fail')).rejects.toThrow(/it broke/);
  });

  it('says "service not running" when nothing listens', async () => {
    const other = resolvePaths(path.join(tmp, 'nobody'));
    await expect(callControl(other, 'service.status')).rejects.toThrow(/service not running/);
  });

  it('will not talk to a socket in a directory others can enter', async () => {
    const dir = path.dirname(agentFiles(paths).controlSocket);
    fs.chmodSync(dir, 0o755);
    try {
      await expect(callControl(paths, 'test.echo', {})).rejects.toThrow(/service not running/);
    } finally {
      fs.chmodSync(dir, 0o700);
    }
  });

  it('falls back to a private per-user directory for a long base dir', async () => {
    const longPaths = resolvePaths(path.join(tmp, 'x'.repeat(120)));
    const socket = agentFiles(longPaths).controlSocket;
    expect(socket.startsWith(os.tmpdir())).toBe(true);
    const fallback = new ControlServer(socket, silentLogger());
    fallback.handle('test.ping', () => 'pong');
    await fallback.listen();
    try {
      expect(await callControl(longPaths, 'test.ping')).toBe('pong');
      expect(fs.statSync(path.dirname(socket)).mode & 0o777).toBe(0o700);
    } finally {
      await fallback.close();
      fs.rmSync(path.dirname(socket), { recursive: true, force: true });
    }
  });

  it('refuses a second server on a live socket', async () => {
    const second = new ControlServer(agentFiles(paths).controlSocket, silentLogger());
    await expect(second.listen()).rejects.toThrow(/already running/);
  });
});

describe('result queue', () => {
  it('keeps batches in order, drops half-written ones and sets corrupt ones aside', () => {
    const dir = path.join(tmp, 'queue');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'half-written.json.tmp'), '{"batchId":');
    const queue = new ResultQueue(dir);
    expect(fs.readdirSync(dir)).toEqual([]);

    const a = queue.enqueue({ taskId: 't1', items: [1], final: false });
    const b = queue.enqueue({ taskId: 't1', items: [], final: true });
    queue.enqueue({ taskId: 't2', items: [2], final: false });
    const files = queue.pending();
    expect(files.map((f) => queue.read(f)?.batchId).slice(0, 2)).toEqual([a.batchId, b.batchId]);
    expect(fs.statSync(files[0]!).mode & 0o777).toBe(0o600);
    expect([...queue.finishedTaskIds()]).toEqual(['t1']);

    fs.writeFileSync(files[2]!, '{broken');
    expect(queue.read(files[2]!)).toBeUndefined();
    expect(fs.existsSync(`${files[2]}.corrupt`)).toBe(true);
    queue.remove(files[0]!);
    expect(queue.pending()).toEqual([files[1]]);
  });
});
