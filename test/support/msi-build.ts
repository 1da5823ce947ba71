import fs from 'node:fs';
import path from 'node:path';
import { readProductMetadata } from '../../packaging/metadata.ts';
import type { BuildContext, ProductMetadata } from '../../packaging/packager.ts';

/** The fixed build time and commit of test MSIs: two builds of one input are identical. */
const EPOCH = 1_767_225_600;
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

/**
 * The build context for msiPackager in tests: `windowsAgent` packed as certagent.exe,
 * signed with the development Authenticode material, output under `root/name/`.
 */
export function msiBuildContext(
  root: string,
  name: string,
  windowsAgent: string,
  authenticode: { chain: string; key: string },
  meta: Partial<ProductMetadata> = {},
): BuildContext {
  const distDir = path.join(root, name, 'dist');
  fs.mkdirSync(distDir, { recursive: true });
  return {
    meta: { ...readProductMetadata(), ...meta },
    sourceDateEpoch: EPOCH,
    commit: COMMIT,
    distDir,
    workDir: path.join(root, name, 'work'),
    executables: { linuxAgent: '/nonexistent', windowsAgent },
    signing: {
      openpgpPrivateKeyArmored: '',
      openpgpPublicKeyArmored: '',
      authenticodeCert: authenticode.chain,
      authenticodeKey: authenticode.key,
      development: true,
    },
    progress: () => {},
  };
}
