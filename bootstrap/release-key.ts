/**
 * Build-time constants of the bootstrap, written by bootstrap/build.ts through esbuild
 * `define`. The release key itself comes from agent/trust/release-keys.ts.
 */
declare const CERTAGENT_BOOTSTRAP_SOURCE: string | undefined;

/** The distribution host baked into this build, if any. */
export function embeddedSource(): string | undefined {
  return typeof CERTAGENT_BOOTSTRAP_SOURCE === 'string' ? CERTAGENT_BOOTSTRAP_SOURCE : undefined;
}
