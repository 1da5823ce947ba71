import fs from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { createStream } from 'rotating-file-stream';

/**
 * Field names whose values are secrets wherever they appear in a log record. pino
 * replaces them before the record is serialised, so no transport ever sees them.
 */
export const REDACTED_FIELDS = [
  'token',
  'password',
  'secret',
  'secretId',
  'secret_id',
  'privateKey',
  'private_key',
  'passPhrase',
  'pass_phrase',
  'passphrase',
  'authorization',
  'apiKey',
];

function redactPaths(): string[] {
  const wildcard = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
  return [...wildcard, 'req.headers.authorization', 'headers.authorization'];
}

export interface LoggerOptions {
  /** Directory for `<name>.log`; without it records go to stderr. */
  logDir?: string;
  name: string;
  level?: string;
}

/**
 * The structured logger of the agent and the manager: JSON records, secrets redacted,
 * written to `<logDir>/<name>.log`, rotated at 10 MiB with 5 files kept.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.CERTAGENT_LOG_LEVEL ?? 'info';
  const base = {
    name: options.name,
    level,
    redact: { paths: redactPaths(), censor: '[redacted]' },
  };
  if (!options.logDir) return pino(base, pino.destination(2));

  fs.mkdirSync(options.logDir, { recursive: true, mode: 0o750 });
  const stream = createStream(`${options.name}.log`, {
    path: options.logDir,
    size: '10M',
    maxFiles: 5,
    mode: 0o640,
  });
  return pino(base, stream);
}

/** A logger that drops everything, for library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export function logFilePath(logDir: string, name: string): string {
  return path.join(logDir, `${name}.log`);
}
