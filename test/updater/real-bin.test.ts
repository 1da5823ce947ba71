import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runUpdate } from '../../agent/updater/updater.ts';
import pkg from '../../package.json' with { type: 'json' };
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  type ReleaseKey,
} from '../support/dist-host.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';
import { describeWithTools } from '../support/tools.ts';
import { feed, installBin, updaterOptions } from './release-fixture.ts';

describeWithTools('update to the real .bin built by the release', ['makeself'], () => {
  let host: DistHost;
  let key: ReleaseKey;
  let work: string;
  let bin: string;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-real-bin-'));
    key = await createReleaseKey();
    host = await new DistHost().start();
    const built = await ensureArtifacts(['bin']);
    bin = built.files.bin.find((f) => f.endsWith('-linux-x64.bin'))!;
  });

  afterAll(async () => {
    await host?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it(
    'unpacks the real .bin beside a stand-in ' + 'older version, checks its identity and switches',
    async () => {
      const version = pkg.version;
      const serviceFile = path.join(work, 'service-up');
      const layout = installBin(path.join(work, 'root'), { version: '0.0.1' }, serviceFile);
      const body = fs.readFileSync(bin);
      const file = `linux/${path.basename(bin)}`;
      host.set(file, body);
      const entry = {
        version,
        file,
        size: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
      };
      await publishSigned(host, key, 'feed/feed.json', feed({ 'linux-x64': entry }));

      // No service manager here: "restart" is a no-op and healthy means the new executable
      // runs and reports the promised version (the service-level check is in bin-update).
      const started: string[] = [];
      const options = updaterOptions(host, key, layout, serviceFile, {
        restartService: async () => undefined,
        healthCheck: async (v) => {
          const res = await execa(path.join(layout.current, 'certagent'), ['version', '--json']);
          started.push(JSON.parse(res.stdout).version);
          if (JSON.parse(res.stdout).version !== v) throw new Error('wrong version running');
        },
        artifactDeadlineMs: 120_000,
      });

      expect(await runUpdate(options, true)).toEqual({
        status: 'updated',
        from: '0.0.1',
        to: version,
      });
      expect(fs.readlinkSync(layout.current)).toBe(`versions/${version}`);
      expect(started).toEqual([version]);
      expect(fs.existsSync(path.join(layout.current, 'install.sh'))).toBe(true);
    },
  );
});
