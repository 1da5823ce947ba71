import { build, type Plugin } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperationalError } from '../../agent/cli/errors.ts';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'entry.ts');

const IMPORT_META_URL = '__certagentImportMetaUrl';

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
export async function bundleAgent(
  outFile: string,
  stamp: BuildStamp,
  releaseKey?: string,
): Promise<string> {
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
    plugins: [nativeAddonStub],
    // ESM dependencies (openpgp: createRequire(import.meta.url)) need a real file URL in
    // CJS; the executable's own path is the truthful one (it only loads builtins anyway).
    define: {
      CERTAGENT_BUILD: JSON.stringify(stamp),
      'import.meta.url': IMPORT_META_URL,
      ...releaseKeyDefine(releaseKey),
    },
    banner: {
      js:
        `var ${IMPORT_META_URL} = require("node:url").pathToFileURL(typeof __filename === ` +
        `"string" ? __filename : process.execPath).href;`,
    },
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

/**
 * The armoured release public key the updater trusts (agent/trust/release-keys.ts reads
 * CERTAGENT_RELEASE_KEY). Left undefined when none is given, so the agent falls back to
 * `release-key.asc` in its install root. Only a public key may be embedded.
 */
function releaseKeyDefine(releaseKey: string | undefined): Record<string, string> {
  if (releaseKey === undefined) return {};
  if (
    !releaseKey.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----') ||
    /PRIVATE KEY/.test(releaseKey)
  ) {
    throw new OperationalError(
      'the release key to embed in the agent is not an armoured OpenPGP public key; pass ' +
        'the public half (ReleaseKey.armoredPublicKey), never the private key.',
      'bundle_release_key',
    );
  }
  return { CERTAGENT_RELEASE_KEY: JSON.stringify(releaseKey) };
}

/**
 * Native addons cannot live inside a single executable. The ones the agent's dependencies
 * reach for are optional accelerators loaded in try/catch with a JavaScript fallback
 * (ssh2's sshcrypto.node, cpu-features); each is replaced by a module that throws, so the
 * fallback is taken. A dependency needing an addon unconditionally fails the smoke test.
 */
const nativeAddonStub: Plugin = {
  name: 'native-addon-stub',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, namespace: 'native-addon' }));
    b.onLoad({ filter: /.*/, namespace: 'native-addon' }, (args) => {
      const message =
        `native addon ${path.basename(args.path)} ` + 'is not in the certagent single executable';
      return { contents: `throw new Error(${JSON.stringify(message)});`, loader: 'js' };
    });
  },
};

// WebAssembly files cannot be inlined either; none may reach the bundle.
function assertNothingExternal(inputs: string[]): void {
  const wasm = inputs.filter((f) => f.endsWith('.wasm'));
  if (wasm.length > 0) {
    throw new OperationalError(
      `the agent bundle pulls in WebAssembly files (${wasm.join(', ')}); a single ` +
        'executable cannot load them. Replace the dependency with a pure JavaScript one.',
      'bundle_wasm',
    );
  }
}
