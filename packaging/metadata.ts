import fs from 'node:fs';
import type { ProductMetadata } from './packager.ts';

/** Reads the product metadata from package.json, the one place it is written. */
export function readProductMetadata(
  packageJsonPath = new URL('../package.json', import.meta.url),
): ProductMetadata {
  const pkg = JSON.parse(fs.readFileSync(packageJsonPath, 'utf8'));
  return {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    maintainer: pkg.certagent.maintainer,
    license: pkg.license,
    homepage: pkg.homepage,
    distributionUrl: pkg.certagent.distributionUrl,
  };
}
