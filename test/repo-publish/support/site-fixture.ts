import fs from 'node:fs';
import path from 'node:path';

import { execa } from 'execa';
import * as openpgp from 'openpgp';

import { loadReleaseKeys, type ReleaseKeys } from '../../../repo-publish/keys/index.ts';
import { publishSite, type PublishResult } from '../../../repo-publish/site/publish-site.ts';
import { serveStatic, type StaticServer } from '../../../repo-publish/site/static-server.ts';
import { buildTinyDeb, buildTinyRpm } from './tiny-packages.ts';

/** A release's worth of tiny artifacts in its own dist dir. */
export async function makeDist(
  work: string,
  version: string,
  kinds: Array<'deb' | 'rpm' | 'msi' | 'bin' | 'exe'>,
): Promise<string> {
  const dist = fs.mkdtempSync(path.join(work, `dist-${version}-`));
  if (kinds.includes('deb')) await buildTinyDeb(dist, version);
  if (kinds.includes('rpm')) await buildTinyRpm(dist, version);
  // Windows and .bin artifacts are opaque files to the site: their bytes only need hashes.
  if (kinds.includes('msi'))
    fs.writeFileSync(path.join(dist, `certagent-${version}-x64.msi`), `msi ${version}`);
  if (kinds.includes('bin')) {
    fs.writeFileSync(path.join(dist, `certagent-${version}-linux-x64.bin`), `bin ${version}`);
  }
  if (kinds.includes('exe'))
    fs.writeFileSync(path.join(dist, 'certagent-setup.exe'), `exe ${version}`);
  return dist;
}

/** An RSA release key (what rpm and every apt accept) given through the environment. */
export async function makeKeys(
  names: string[],
  opts: { lifetimeDays?: number } = {},
): Promise<ReleaseKeys> {
  const armored = await Promise.all(
    names.map(async (name) => {
      const { privateKey } = await openpgp.generateKey({
        type: 'rsa',
        rsaBits: 2048,
        userIDs: [{ name: `certagent test ${name}`, email: `${name}@certagent.invalid` }],
        keyExpirationTime: (opts.lifetimeDays ?? 0) * 86_400,
        format: 'armored',
      });
      return privateKey;
    }),
  );
  const env: NodeJS.ProcessEnv = { CERTAGENT_RELEASE_KEY: armored[0] };
  if (armored[1]) env.CERTAGENT_RELEASE_KEY_NEXT = armored[1];
  return loadReleaseKeys({ env, warn: () => {} });
}

export async function publish(
  from: string,
  to: string,
  keys: ReleaseKeys,
  extra: { keep?: number; baseUrl?: string; codenames?: string[] } = {},
): Promise<PublishResult> {
  return publishSite({
    from,
    to,
    keys,
    keep: extra.keep ?? 0,
    baseUrl: extra.baseUrl ?? 'http://127.0.0.1:9/',
    codenames: extra.codenames,
  });
}

/** A copy of a site (symlinks kept, files unshared) for tampering without harming it. */
export async function copySite(site: string, to: string): Promise<string> {
  await execa('cp', ['-a', site, to]);
  return to;
}

/** The real file behind a public path of the site (public names are symlinks). */
export function realPath(site: string, rel: string): string {
  return fs.realpathSync(path.join(site, rel));
}

export async function serve(site: string): Promise<StaticServer> {
  return serveStatic(site, '127.0.0.1', 0);
}
