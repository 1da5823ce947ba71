import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { managerMain, startManager, type ManagerProcess } from '../support/manager.ts';

let manager: ManagerProcess | undefined;
let dataDir: string | undefined;

afterAll(async () => {
  await manager?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('certagent-manager serve lock', () => {
  it('refuses a second serve on the same data directory, and takes over a stale lock', async () => {
    manager = await startManager();
    dataDir = manager.dataDir;
    const lockFile = path.join(manager.dataDir, 'serve.lock');
    const pid = Number(fs.readFileSync(lockFile, 'utf8').trim());
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(process.pid);

    const second = await managerMain([
      'serve',
      '--data',
      manager.dataDir,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain(`another manager is serving ${manager.dataDir} (pid ${pid})`);
    expect(second.stdout).not.toMatch(/listening/);
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(pid));

    // SIGKILL leaves the lock behind with a dead pid: the next serve takes it over.
    await manager.kill();
    expect(fs.existsSync(lockFile)).toBe(true);
    await manager.restart();
    expect(Number(fs.readFileSync(lockFile, 'utf8').trim())).not.toBe(pid);

    // A clean stop gives the lock back.
    await manager.stop();
    expect(fs.existsSync(lockFile)).toBe(false);
    manager = undefined;
  });
});
