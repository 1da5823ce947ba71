/**
 * Entry point of the single executable. One binary serves both names: the program name is
 * the basename it was started as (`certagent` or the `certagent-config` link beside it).
 */
import path from 'node:path';
import { main } from '../../agent/cli/main.ts';

// In a single executable argv is [execPath, argv0, ...args]; argv0 keeps the link name.
const invokedAs = path.basename(process.argv0).replace(/\.exe$/i, '');
const programName = invokedAs === 'certagent-config' ? 'certagent-config' : 'certagent';

main(process.argv.slice(2), { programName }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${programName}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
