import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperationalError } from '../../agent/cli/errors.ts';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'entry.ts');

/** What gets baked into `certagent version` (agent/version.ts reads CERTAGENT_BUILD). */
export interface BuildStamp {
  commit: string;
  /** ISO date derived from SOURCE_DATE_EPOCH, never the wall clock. */
  date: string;
}

/**
 * Bundles the agent into one CommonJS file for the single executable. Everything must be
 * inlined: a SEA has no node_modules, so a dynamic require, a .node addon, a wasm file or a
 * worker script the bundle points to would fail only at run time, on the customer machine.
 */
export async function bundleAgent(outFile: string, stamp: BuildStamp): Promise<string> {
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const result = await build({
    entryPoints: [ENTRY],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: false,
    legalComments: 'inline',
    logLevel: 'silent',
    metafile: true,
    define: { CERTAGENT_BUILD: JSON.stringify(stamp) },
    // import.meta.url has no meaning in CJS; the SEA has no files beside it anyway.
    supported: { 'import-meta': false },
  }).catch((err: unknown) => {
    throw new OperationalError(
      `bundling ${ENTRY} with esbuild failed: ${String(err)}. Fix the import named above.`,
      'bundle_failed',
      { cause: err },
    );
  });

  assertNothingExternal(Object.keys(result.metafile.inputs));
  return outFile;
}

// Native addons cannot live inside a single executable (the agent must stay pure JS).
function assertNothingExternal(inputs: string[]): void {
  const native = inputs.filter((f) => f.endsWith('.node') || f.endsWith('.wasm'));
  if (native.length > 0) {
    throw new OperationalError(
      `the agent bundle pulls in native or wasm files (${native.join(', ')}); a single ` +
        'executable cannot load them. Replace the dependency with a pure JavaScript one.',
      'bundle_native',
    );
  }
}
