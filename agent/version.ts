import pkg from '../package.json' with { type: 'json' };

/** Filled in by the release bundler (esbuild `define`); absent when run from a checkout. */
declare const CERTAGENT_BUILD: { commit: string; date: string } | undefined;

export interface BuildIdentity {
  name: string;
  version: string;
  commit: string;
  date: string;
  node: string;
  platform: string;
}

/** The version and build identity shown by `certagent version` and sent to the manager. */
export function buildIdentity(): BuildIdentity {
  const build =
    typeof CERTAGENT_BUILD !== 'undefined' ? CERTAGENT_BUILD : { commit: 'source', date: '' };
  return {
    name: pkg.name,
    version: process.env.CERTAGENT_VERSION_OVERRIDE ?? pkg.version,
    commit: build.commit,
    date: build.date,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}
