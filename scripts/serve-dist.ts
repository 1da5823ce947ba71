#!/usr/bin/env -S npx tsx
/**
 * Serves the published site on loopback for trying the install instructions:
 *
 *   npm run serve:dist -- [--dir DIR] [--port N] [--host 127.0.0.1]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { exitCodeOf, OperationalError, UsageError } from '../agent/cli/errors.ts';
import { serveStatic } from '../repo-publish/site/static-server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `Usage: npm run serve:dist -- [--dir DIR] [--port N] [--host ADDRESS]

  --dir DIR       the published site (default: dist/site/)
  --port N        port to listen on (default: 8080; 0 picks a free one)
  --host ADDRESS  loopback address to bind (default: 127.0.0.1)
  --help          this help
`;

async function cli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string', default: path.join(ROOT, 'dist', 'site') },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }

  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be 0-65535, got "${values.port}"`);
  }
  // Loopback only: this is for trying the site out, not for serving the public.
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(values.host)) {
    throw new UsageError(
      `--host must be a loopback address (127.x.x.x or ::1), got "${values.host}"`,
    );
  }

  const dir = path.resolve(values.dir);
  if (!fs.existsSync(dir)) {
    throw new OperationalError(
      `${dir} does not exist: run \`npm run publish\` first or pass --dir.`,
      'serve_dir',
    );
  }
  const server = await serveStatic(dir, values.host, port);
  process.stdout.write(`serving ${dir} at ${server.url}/ (Ctrl-C stops)\n`);
  process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

cli(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`serve:dist: ${message}\n`);
  process.exit(exitCodeOf(err));
});
