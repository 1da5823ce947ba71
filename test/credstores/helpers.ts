import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import type { StoreDefinition, StoreDeps } from '../../agent/credstores/store.ts';

/** A unique temp conf dir, and a logger whose records the test can read back. */
export function makeDeps(): StoreDeps & { logText(): string } {
  const confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-credstore-'));
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
