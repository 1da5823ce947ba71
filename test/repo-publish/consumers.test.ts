import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { entryFor, parseFeed } from '../../agent/updater/feed.ts';
import { verifyDetachedSignature } from '../../agent/trust/signed-document.ts';
import { parseManifest, selectMsi } from '../../bootstrap/manifest.ts';
import type { ReleaseKeys } from '../../repo-publish/keys/index.ts';
import { describeWithTools } from '../support/tools.ts';
import { makeDist, makeKeys, publish } from './support/site-fixture.ts';

// The contract with the readers of the signed documents: the bootstrap's manifest parser
// and the updater's feed parser, each verifying with the published key file.
describeWithTools(
  'published manifest and feed, as the bootstrap and updater read them',
  ['gpg', 'rpm', 'createrepo_c', 'xz'],
  () => {
    let work: string;
    let site: string;
    let keys: ReleaseKeys;

    beforeAll(async () => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-consumers-'));
      site = path.join(work, 'site');
      keys = await makeKeys(['old', 'new']);
      const opts = { codenames: ['bookworm'] };
      await publish(await makeDist(work, '1.0.0', ['msi', 'bin']), site, keys, opts);
      await publish(await makeDist(work, '1.1.0', ['msi', 'bin']), site, keys, opts);
    });
    afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

    async function verified(rel: string): Promise<{ text: string; signer: string }> {
      const data = fs.readFileSync(path.join(site, rel));
      const signer = await verifyDetachedSignature({
        data,
        signatureArmored: fs.readFileSync(path.join(site, `${rel}.asc`), 'utf8'),
        trustedKeysArmored: [fs.readFileSync(path.join(site, 'linux/apt-sign.gpg'), 'utf8')],
        source: rel,
      });
      return { text: data.toString('utf8'), signer };
    }

    it('the bootstrap verifies the manifest and finds the newest x64 MSI', async () => {
      const { text, signer } = await verified('windows/manifest.json');
      expect(keys.signing.map((k) => k.fingerprint.toLowerCase())).toContain(signer.toLowerCase());

      const manifest = parseManifest(text, 'manifest');
      expect(manifest).toMatchObject({ sequence: 2, version: '1.1.0' });
      const msi = selectMsi(manifest, 'x64', 'manifest');
      expect(fs.statSync(path.join(site, 'windows', msi.file)).size).toBe(msi.size);
    });

    it('the updater verifies the feed and finds the newest linux-x64 .bin', async () => {
      const { text } = await verified('feed/feed.json');
      const feed = parseFeed(text, 'feed');
      expect(feed.sequence).toBe(2);
      const linux = entryFor(feed, 'linux-x64', 'feed');
      expect(linux).toMatchObject({
        version: '1.1.0',
        file: 'linux/certagent-1.1.0-linux-x64.bin',
      });
      expect(fs.statSync(path.join(site, linux.file)).size).toBe(linux.size);
    });

    it('the updater accepts the win-x64 MSI entry as publish names it', async () => {
      const feed = parseFeed((await verified('feed/feed.json')).text, 'feed');
      const windows = entryFor(feed, 'win-x64', 'feed');
      expect(windows).toMatchObject({
        version: '1.1.0',
        file: 'windows/certagent-1.1.0-x64.msi',
      });
      expect(fs.statSync(path.join(site, windows.file)).size).toBe(windows.size);
    });

    it('a manifest signed with a key that is not in the published file is refused', async () => {
      const intruder = await makeKeys(['intruder']);
      const data = fs.readFileSync(path.join(site, 'windows/manifest.json'));
      const { signDetached } = await import('../../repo-publish/keys/index.ts');
      await expect(
        verifyDetachedSignature({
          data,
          signatureArmored: await signDetached(intruder, data),
          trustedKeysArmored: [fs.readFileSync(path.join(site, 'linux/apt-sign.gpg'), 'utf8')],
          source: 'manifest',
        }),
      ).rejects.toThrow(/not a trusted release key/);
    });
  },
);
