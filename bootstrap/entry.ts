// Entry point of the bootstrap single executable (certagent-setup.exe). No top-level await:
// the single-executable loader runs the bundle as CommonJS.
import { runBootstrap } from './install.ts';

void runBootstrap(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
);
