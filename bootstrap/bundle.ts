import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperationalError } from '../agent/cli/errors.ts';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'entry.ts');

/** Agent modules the bootstrap may contain (SPEC section 2: it stays small). */
const ALLOWED_AGENT_MODULES = [
  'agent/trust/',
  'agent/proxy/',
  'agent/cli/errors.ts',
  // Where the installed MSI is kept for the updater's rollback; node:fs and node:path only.
  'agent/updater/msi-packages.ts',
  // Which msiexec exit codes mean installed; no imports.
  'agent/platform/msiexec-result.ts',
];

export interface BootstrapBuild {
  /** Armoured release public key the bootstrap will trust, baked into the bundle. */
  releaseKeyArmored: string;
  /** Default distribution host (`/source` overrides it). */
  source: string;
}

/**
 * Bundles the bootstrap into one CommonJS file for its own single executable, with the
 * release key and distribution host compiled in. Fails if the bundle reaches into agent
 * code beyond trust, proxy and errors, or pulls in a native addon.
 */
export async function bundleBootstrap(outFile: string, options: BootstrapBuild): Promise<string> {
  if (!options.releaseKeyArmored.includes('BEGIN PGP PUBLIC KEY BLOCK')) {
    throw new OperationalError(
      'the bootstrap needs the armoured release public key to embed; pass the public key, ' +
        'not a private key or a fingerprint',
      'bootstrap.build-key',
    );
  }
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const result = await build({
    entryPoints: [ENTRY],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    legalComments: 'inline',
    logLevel: 'silent',
    metafile: true,
    define: {
      CERTAGENT_RELEASE_KEY: JSON.stringify(options.releaseKeyArmored),
      CERTAGENT_BOOTSTRAP_SOURCE: JSON.stringify(options.source),
      // openpgp's ESM build calls createRequire(import.meta.url) at load time; in a CJS
      // bundle import.meta is empty, so give it the bundle's own URL.
      'import.meta.url': '__bootstrapModuleUrl',
    },
    banner: { js: 'var __bootstrapModuleUrl = require("url").pathToFileURL(__filename).href;' },
  });
  checkInputs(Object.keys(result.metafile.inputs));
  return outFile;
}

function checkInputs(inputs: string[]): void {
  const stray = inputs.filter(
    (f) => f.startsWith('agent/') && !ALLOWED_AGENT_MODULES.some((m) => f.startsWith(m)),
  );
  const native = inputs.filter((f) => f.endsWith('.node') || f.endsWith('.wasm'));
  if (stray.length === 0 && native.length === 0) return;
  throw new OperationalError(
    `the bootstrap bundle pulls in ${[...stray, ...native].join(', ')}; it may only use ` +
      `bootstrap/, ${ALLOWED_AGENT_MODULES.join(', ')} and pure JavaScript packages`,
    'bootstrap.bundle-scope',
  );
}
