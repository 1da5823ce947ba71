/**
 * The one interface every package format implements. scripts/release.ts builds the
 * single executables once, then hands the same BuildContext to each packager in turn.
 */

/** Product metadata, written once in package.json and flowing into every format. */
export interface ProductMetadata {
  name: string;
  version: string;
  description: string;
  maintainer: string;
  license: string;
  homepage: string;
  /** Default distribution host baked into the bootstrap and the updater. */
  distributionUrl: string;
}

/** Paths of the single executables built from agent/cli/main.ts and bootstrap/. */
export interface ExecutableSet {
  /** linux-x64 agent executable (`certagent`). */
  linuxAgent: string;
  /** win-x64 agent executable (`certagent.exe`), Authenticode-signed. */
  windowsAgent: string;
  /** win-x64 bootstrap downloader (`certagent-setup.exe`), Authenticode-signed. */
  windowsBootstrap?: string;
}

/** The OpenPGP and Authenticode material a build signs with. */
export interface SigningMaterial {
  /** Armoured OpenPGP private key of the release key (throwaway when none was given). */
  openpgpPrivateKeyArmored: string;
  /** Armoured public key matching it. */
  openpgpPublicKeyArmored: string;
  /** Authenticode certificate and key (PEM files) for osslsigncode. */
  authenticodeCert: string;
  authenticodeKey: string;
  /** True when the keys were generated for this build and must not be trusted. */
  development: boolean;
}

export interface BuildContext {
  meta: ProductMetadata;
  /** Seconds since the epoch; every timestamp in every artifact derives from it. */
  sourceDateEpoch: number;
  /** Git commit the build is made from ('unknown' outside a checkout). */
  commit: string;
  /** Final artifacts go here. */
  distDir: string;
  /** Scratch space, one subfolder per packager. */
  workDir: string;
  executables: ExecutableSet;
  signing: SigningMaterial;
  /** Reports a step in progress; the release script renders it. */
  progress(step: string): void;
}

export interface Artifact {
  /** Absolute path of the file in distDir. */
  path: string;
  format: string;
}

export interface Packager {
  /** Short name used by `npm run release -- --only`. */
  format: string;
  /** Debian packages this packager drives. */
  tools: string[];
  build(ctx: BuildContext): Promise<Artifact[]>;
}
