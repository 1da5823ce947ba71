import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultInstallRoot } from '../../agent/updater/install-layout.ts';
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  type ReleaseKey,
} from '../support/dist-host.ts';
import { entryOf, feed, installBin, packRelease } from './release-fixture.ts';
import { runAgentMain } from '../support/agent-main.ts';

let host: DistHost;
let key: ReleaseKey;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-update-cli-'));
  key = await createReleaseKey();
  host = await new DistHost().start();
});

afterAll(async () => {
  await host.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const cli = runAgentMain;

/** A `.bin` install of 1.0.0 with the release key beside it, a 1.1.0 on the host. */
async function install(kind = 'bin') {
  const root = fs.mkdtempSync(path.join(work, 'root-'));
  const base = path.join(root, 'var');
  const serviceFile = path.join(root, 'service-up');
  installBin(root, { version: '1.0.0' }, serviceFile);
  fs.writeFileSync(path.join(root, 'install-kind'), `${kind}\n`);
  fs.writeFileSync(path.join(root, 'release-key.asc'), key.publicKeyArmored);
  const next = await packRelease(root, { version: '1.1.0' }, serviceFile);
  host.set(`linux/${next.name}`, next.body);
  await publishSigned(host, key, 'feed/feed.json', feed({ 'linux-x64': entryOf(next, '1.1.0') }));
  const common = ['--base-dir', base, 'update', '--source', host.origin, '--install-root', root];
  return { root, base, common };
}

describe('certagent update', () => {
  it('--check reports an available update and --status shows the check', async () => {
    const { common, root } = await install();
    const check = await cli([...common, '--check']);
    expect(check.err).toBe('');
    expect(check.out).toBe('update available: 1.0.0 -> 1.1.0\n');
    expect(check.code).toBe(0);
    expect(fs.readlinkSync(path.join(root, 'current'))).toBe('versions/1.0.0');

    const status = await cli([...common, '--status']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/installed: +1\.0\.0 \(bin install\)/);
    expect(status.out).toMatch(/last check: +\d{4}-\d\d-\d\dT/);
    expect(status.out).toMatch(/last result: +update available: 1\.0\.0 -> 1\.1\.0/);
  });

  it('certagent status shows the last check, its result and the next check', async () => {
    const { common, root, base } = await install();
    const previous = process.env.CERTAGENT_PROGRAM_DIR;
    process.env.CERTAGENT_PROGRAM_DIR = root;
    try {
      const on = await cli(['set', 'auto-update', 'on', '--base-dir', base], 'certagent-config');
      expect(on.code).toBe(0);
      await cli([...common, '--check']);
      const status = await cli(['--base-dir', base, 'status']);
      expect(status.out).toMatch(/auto-update: +on/);
      expect(status.out).toMatch(
        new RegExp(
          String.raw`updates: +last check \d{4}-[^ ]+Z: update available: 1\.0\.0 -> ` +
            String.raw`1\.1\.0; next check when the service starts`,
        ),
      );
      const json = JSON.parse((await cli(['--base-dir', base, 'status', '--json'])).out);
      expect(json.update).toMatchObject({ installKind: 'bin', effective: true, heldAt: null });
    } finally {
      if (previous === undefined) delete process.env.CERTAGENT_PROGRAM_DIR;
      else process.env.CERTAGENT_PROGRAM_DIR = previous;
    }
  });

  const roots: Array<[string, Record<string, string>, string]> = [
    ['/opt/certagent/versions/1.2.3/certagent', {}, '/opt/certagent'],
    ['/usr/bin/node', {}, '/opt/certagent'],
    ['/usr/bin/node', { CERTAGENT_INSTALL_ROOT: '/tmp/chroot' }, '/tmp/chroot/opt/certagent'],
    ['/usr/bin/node', { CERTAGENT_PROGRAM_DIR: '/srv/ca' }, '/srv/ca'],
    ['/srv/x/certagent', {}, '/srv/x'],
  ];
  it.each(roots)('finds the program directory of %s %j', (execPath, env, expected) => {
    expect(defaultInstallRoot(env, execPath)).toBe(expected);
  });

  it('reports a refused feed with exit 1 and keeps it in --status', async () => {
    const { common } = await install();
    host.set('feed/feed.json.asc', 'not a signature');
    const check = await cli([...common, '--check']);
    expect(check.code).toBe(1);
    expect(check.err).toMatch(
      /feed\.json: the signature file is not an armoured OpenPGP signature/,
    );
    const status = await cli([...common, '--status']);
    expect(status.out).toMatch(/last result: .*not an armoured OpenPGP signature.*\[FAILED\]/);
  });

  it('refuses to update without a trusted release key', async () => {
    const { common, root } = await install();
    fs.rmSync(path.join(root, 'release-key.asc'));
    const check = await cli([...common, '--check']);
    expect(check.code).toBe(1);
    expect(check.err).toMatch(/no trusted release key is configured/);
  });

  it('goes through the configured proxy', async () => {
    const { common, base } = await install();
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    expect((await cli(['--base-dir', base, 'config', 'set', 'proxy.host', '127.0.0.1'])).code).toBe(
      0,
    );
    expect(
      (await cli(['--base-dir', base, 'config', 'set', 'proxy.port', String(port)])).code,
    ).toBe(0);
    host.requests.length = 0;
    const check = await cli([...common, '--check']);
    expect(check.code).toBe(1);
    expect(check.err).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
    expect(host.requests).toEqual([]);
  });

  it('refuses two modes at once', async () => {
    const { common } = await install();
    const both = await cli([...common, '--check', '--now']);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/one of --check, --now or --status/);
  });

  const managed: Array<[string, RegExp]> = [
    ['deb', /apt/],
    ['rpm', /dnf/],
    ['image', /a newer image tag/],
  ];
  it.each(managed)(
    'a %s install refuses to update itself and to turn auto-update on',
    async (kind, tool) => {
      const { common, base, root } = await install(kind);
      const now = await cli([...common, '--now']);
      expect(now.code).toBe(1);
      expect(now.err).toMatch(new RegExp(`this agent is a ${kind} install.*use ${tool.source}`));
      expect(fs.readlinkSync(path.join(root, 'current'))).toBe('versions/1.0.0');

      const previous = process.env.CERTAGENT_PROGRAM_DIR;
      process.env.CERTAGENT_PROGRAM_DIR = root;
      try {
        const on = await cli(['set', 'auto-update', 'on', '--base-dir', base], 'certagent-config');
        expect(on.code).toBe(2);
        expect(on.err).toMatch(
          new RegExp(`cannot be turned on for a ${kind} install; update it with ${tool.source}`),
        );
        const off = await cli(
          ['set', 'auto-update', 'off', '--base-dir', base],
          'certagent-config',
        );
        expect(off.code).toBe(0);
        const status = await cli([...common, '--status']);
        expect(status.out).toMatch(
          new RegExp(`auto-update: +off \\(${kind} install, updated by ${tool.source}`),
        );
      } finally {
        if (previous === undefined) delete process.env.CERTAGENT_PROGRAM_DIR;
        else process.env.CERTAGENT_PROGRAM_DIR = previous;
      }
    },
  );
});
