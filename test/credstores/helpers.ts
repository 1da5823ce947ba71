import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll } from 'vitest';
import type { StoreDefinition, StoreDeps } from '../../agent/credstores/store.ts';

// Every conf dir made for a test file goes when that file's tests are done.
const made: string[] = [];
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A unique temp conf dir, and a logger whose records the test can read back. */
export function makeDeps(): StoreDeps & { logText(): string } {
  const confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-credstore-'));
  made.push(confDir);
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { confDir, logger: pino({ level: 'debug' }, sink), logText: () => text };
}

export function definition(
  type: StoreDefinition['type'],
  settings: StoreDefinition['settings'],
  secrets: Record<string, string> = {},
): StoreDefinition {
  return { name: `${type}-test`, type, settings, secrets };
}
