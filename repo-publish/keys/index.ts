// The release keys: loading and checking them, and the signatures every repository uses.
export { loadReleaseKeys, DEFAULT_DEV_KEY_CACHE } from './release-keys.ts';
export type { ReleaseKey, ReleaseKeys, LoadReleaseKeysOptions } from './release-keys.ts';
export { signDetached, signCleartext, exportPublicKeys } from './signatures.ts';
export { EXPIRY_WARNING_DAYS } from './key-validity.ts';
