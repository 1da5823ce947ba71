import fs from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { createStream } from 'rotating-file-stream';

// The manager keeps its own logger instead of importing the agent's: the two sides share
// only protocol/. Same policy: JSON records, secrets redacted by field name, rotated.
const SECRET_FIELDS = ['token', 'csr', 'privateKey', 'password', 'authorization'];

/** Logs to DIR/logs/manager.log, rotated at 10 MiB, 5 files kept. */
export function createManagerLogger(dataDir: string): Logger {
  const logDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true, mode: 0o750 });
  const stream = createStream('manager.log', {
    path: logDir,
    size: '10M',
    maxFiles: 5,
    mode: 0o640,
  });
  const paths = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]);
  return pino(
    {
      name: 'manager',
      level: process.env.CERTAGENT_LOG_LEVEL ?? 'info',
      redact: { paths, censor: '[redacted]' },
    },
    stream,
  );
}
