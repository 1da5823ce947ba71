import path from 'node:path';
import { build } from 'esbuild';

const ENTRY = path.resolve(import.meta.dirname, '..', 'packaging', 'sea', 'entry.ts');

/**
 * Bundles the agent into one ES module, the way the single executable is built, so the
 * benchmark measures the code customers run rather than a checkout's TypeScript loader.
 */
// packaging/sea/bundle.ts makes a CommonJS bundle for the executable; at the time of
// writing that bundle fails at start-up (openpgp calls createRequire(import.meta.url),
// which is undefined in CommonJS), so the benchmark builds an ES module of its own.
export async function bundleAgentForBench(outFile: string): Promise<string> {
  await build({
    entryPoints: [ENTRY],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    define: { CERTAGENT_BUILD: JSON.stringify({ commit: 'bench', date: '1970-01-01' }) },
    // CommonJS dependencies inside an ES module bundle still call require().
    banner: {
      js: "import { createRequire as benchRequire } from 'node:module'; const require = benchRequire(import.meta.url);",
    },
  });
  return outFile;
}
