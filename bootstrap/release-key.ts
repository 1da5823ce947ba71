/**
 * Build-time constants of the bootstrap, written by bootstrap/build.ts through esbuild
 * `define`: the armoured release public key and the default distribution host.
 */
declare const CERTAGENT_BOOTSTRAP_RELEASE_KEY: string | undefined;
declare const CERTAGENT_BOOTSTRAP_SOURCE: string | undefined;

/** The release keys embedded in this build; empty when run from sources. */
export function embeddedReleaseKeys(): string[] {
  return typeof CERTAGENT_BOOTSTRAP_RELEASE_KEY === 'string' && CERTAGENT_BOOTSTRAP_RELEASE_KEY
    ? [CERTAGENT_BOOTSTRAP_RELEASE_KEY]
    : [];
}

export function embeddedSource(): string | undefined {
  return typeof CERTAGENT_BOOTSTRAP_SOURCE === 'string' ? CERTAGENT_BOOTSTRAP_SOURCE : undefined;
}
