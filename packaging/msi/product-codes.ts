import crypto from 'node:crypto';

/**
 * The UpgradeCode of certagent: fixed for the life of the product, so every MSI finds and
 * replaces the one installed before it (major upgrade). Never change it.
 */
export const UPGRADE_CODE = '6A1C9E52-3B7F-4D0A-9E61-2F8C4B5D7E30';

/** Namespace of every name-based GUID the MSI build derives (RFC 4122 version 5). */
const NAMESPACE = 'b4f0d3a2-7c1e-5f60-8a93-1d2e3f405162';

/** RFC 4122 version 5 (SHA-1, name-based) UUID of `name` in `namespace`, upper case. */
export function uuidV5(name: string, namespace = NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = crypto.createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex').toUpperCase();
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20),
  ].join('-');
}

/**
 * ProductCode and PackageCode of one build. wixl would draw them at random, which breaks
 * reproducibility; deriving them from the version and a hash of everything packed keeps
 * them stable for the same input and new for any change (Windows Installer requires a new
 * PackageCode whenever the package differs, and a new ProductCode for a major upgrade).
 */
export function productCodes(version: string, contentSha256: string) {
  return {
    productCode: uuidV5(`product:${version}:${contentSha256}`),
    packageCode: uuidV5(`package:${version}:${contentSha256}`),
  };
}

/** Component GUIDs stay the same across versions, as component rules require. */
export function componentGuid(componentId: string): string {
  return uuidV5(`component:${componentId}`);
}
