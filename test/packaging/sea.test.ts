import { execa } from 'execa';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithTools } from '../support/tools.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  type ReleaseKey,
} from '../support/dist-host.ts';
import { entryOf, feed, installBin, packRelease } from '../updater/release-fixture.ts';
import { bundleAgent } from '../../packaging/sea/bundle.ts';
import { loadReleaseKeys } from '../../repo-publish/keys/index.ts';

const DEV_CA = path.resolve('.cache/authenticode-dev/dev-ca.pem');
const STAMP = { commit: 'c0ffee', date: '2001-02-03T04:05:06.000Z' };

let host: DistHost;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-sea-update-'));
  host = await new DistHost().start();
});

afterAll(async () => {
  await host.close();
  fs.rmSync(work, { recursive: true, force: true });
});

/**
 * A `.bin` install of 1.0.0 with no `release-key.asc` in it, and a 1.1.0 on the loopback
 * host under a feed signed by `key`: only a key compiled into the agent can verify it.
 */
async function installWithoutKeyFile(key: ReleaseKey, name: string): Promise<string[]> {
  const root = fs.mkdtempSync(path.join(work, 'root-'));
  const serviceFile = path.join(root, 'service-up');
  installBin(root, { version: '1.0.0' }, serviceFile);
  fs.writeFileSync(path.join(root, 'install-kind'), 'bin\n');
  const next = await packRelease(root, { version: '1.1.0' }, serviceFile);
  host.set(`${name}/linux/${next.name}`, next.body);
  const entry = entryOf(next, '1.1.0', `${name}/linux`);
  await publishSigned(host, key, `${name}/feed/feed.json`, feed({ 'linux-x64': entry }));
  const source = `${host.origin}/${name}`;
  const base = path.join(root, 'var');
  return ['--base-dir', base, 'update', '--source', source, '--install-root', root, '--check'];
}

/** A loopback port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function runAgent(command: string[], args: string[]) {
  const [file, ...pre] = command;
  return execa(file, [...pre, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    extendEnv: false,
    reject: false,
    all: true,
  });
}

describeWithTools('single executables', ['osslsigncode', 'strip'], () => {
  let linux: string;
  let windows: string;
  let bootstrap: string;
  let distDir: string;
  let commit: string;
  let epoch: number;

  beforeAll(async () => {
    const built = await ensureArtifacts(['sea']);
    const files = built.files.sea;
    epoch = built.sourceDateEpoch;
    distDir = built.distDir;
    linux = files.find((f) => f.endsWith('-linux-x64'))!;
    windows = files.find((f) => f.endsWith('-win-x64.exe'))!;
    bootstrap = files.find((f) => path.basename(f) === 'certagent-setup.exe')!;
    commit = built.commit;
  });

  it('runs with an empty environment and reports the build identity', async () => {
    const res = await execa('env', ['-i', linux, 'version', '--json']);
    const id = JSON.parse(res.stdout);
    expect(id).toMatchObject({ name: 'certagent', commit, platform: 'linux-x64' });
    expect(id.node).toMatch(/^v22\./);
    expect(id.date).toBe(new Date(epoch * 1000).toISOString());
  });

  it('answers as certagent-config when started through a link of that name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-sea-link-'));
    fs.symlinkSync(linux, path.join(dir, 'certagent-config'));
    const res = await execa('env', ['-i', path.join(dir, 'certagent-config'), '--help']);
    fs.rmSync(dir, { recursive: true });
    expect(res.stdout).toContain('Usage: certagent-config');
  });

  it('trusts the release key that signs SHA256SUMS: update --check verifies its feed', async () => {
    // The release run used the cached development key (no key in its environment).
    const keys = await loadReleaseKeys({
      env: {},
      devKeyCacheDir: path.resolve('.cache/dev-keys'),
      warn: () => {},
    });
    const releaseKey: ReleaseKey = {
      publicKeyArmored: keys.signing[0].armoredPublicKey,
      privateKey: keys.signing[0].privateKey,
    };
    const ok = await runAgent([linux], await installWithoutKeyFile(releaseKey, 'sea-good'));
    expect(ok.all).toBe('update available: 1.0.0 -> 1.1.0');
    expect(ok.exitCode).toBe(0);

    const other = await createReleaseKey('not the release key');
    const bad = await runAgent([linux], await installWithoutKeyFile(other, 'sea-bad'));
    expect(bad.exitCode).toBe(1);
    expect(bad.all).toMatch(/not a trusted release key/);
    expect(bad.all).not.toMatch(/update available/);
  });

  it('evaluates PAC files in their worker sandbox inside the executable', async () => {
    const closedPort = await freePort();
    host.set(
      'sea-pac/route.pac',
      `function FindProxyForURL(url, host) {
        return isInNet(host, "127.0.0.0", "255.0.0.0") ? "PROXY 127.0.0.1:${closedPort}" : "DIRECT";
      }`,
    );
    host.set('sea-pac/loop.pac', 'function FindProxyForURL(url, host) { while (true) {} }');
    const args = await installWithoutKeyFile(await createReleaseKey(), 'sea-pac');
    const usePac = (name: string) =>
      runAgent([linux], ['--base-dir', args[1], 'config', 'set', 'proxy.pac-url', host.url(name)]);

    expect((await usePac('sea-pac/route.pac')).exitCode).toBe(0);
    const routed = await runAgent([linux], args);
    expect(routed.exitCode).toBe(1);
    expect(routed.all).toContain(`PROXY 127.0.0.1:${closedPort}: cannot connect to proxy`);

    // The CPU limit (the worker is stopped) holds in the executable too.
    expect((await usePac('sea-pac/loop.pac')).exitCode).toBe(0);
    const looped = await runAgent([linux], args);
    expect(looped.exitCode).toBe(1);
    expect(looped.all).toMatch(/loop\.pac ran longer than \d+ ms while evaluating/);
  });

  it('exits 2 with a message on an unknown command, like the source tree does', async () => {
    const res = await execa('env', ['-i', linux, 'no-such-verb'], { reject: false, all: true });
    expect(res.exitCode).toBe(2);
    expect(res.all).toMatch(/unknown command/);
  });

  it(
    'signs the Windows executable so that ' + 'osslsigncode verify passes with the dev CA',
    async () => {
      const res = await execa('osslsigncode', ['verify', '-in', windows, '-CAfile', DEV_CA], {
        reject: false,
      });
      expect(res.stdout).toContain('Signature verification: ok');
      expect(res.exitCode).toBe(0);
    },
  );

  it('builds the bootstrap downloader as certagent-setup.exe, signed like the agent', async () => {
    expect(bootstrap).toBeDefined();
    const res = await execa('osslsigncode', ['verify', '-in', bootstrap, '-CAfile', DEV_CA], {
      reject: false,
    });
    expect(res.stdout).toContain('Signature verification: ok');
    expect(res.exitCode).toBe(0);
    // A Node single executable of the bootstrap, not a copy of the agent.
    expect(fs.readFileSync(bootstrap).equals(fs.readFileSync(windows))).toBe(false);
    expect(fs.readFileSync(bootstrap).includes('NODE_SEA_BLOB')).toBe(true);

    // Listed in the SHA256SUMS of the release run that built it.
    const { stdout } = await execa('sha256sum', [bootstrap]);
    const sums = fs
      .readdirSync(distDir)
      .filter((f) => f.startsWith('.sums-'))
      .map((f) => fs.readFileSync(path.join(distDir, f), 'utf8'))
      .join('');
    expect(sums).toContain(`${stdout.split(' ')[0]}  certagent-setup.exe\n`);
  });

  it('has a Windows signature that no longer verifies once the executable is altered', async () => {
    const bad = path.join(os.tmpdir(), `certagent-tampered-${process.pid}.exe`);
    const bytes = fs.readFileSync(windows);
    bytes[4096] ^= 0x01;
    fs.writeFileSync(bad, bytes);
    const res = await execa('osslsigncode', ['verify', '-in', bad, '-CAfile', DEV_CA], {
      reject: false,
    });
    fs.rmSync(bad);
    expect(res.exitCode).not.toBe(0);
  });
});

it(
  'bundles the agent into one CommonJS file ' + 'with the build stamp and no native files',
  async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-bundle-')), 'a.cjs');
    await bundleAgent(out, { commit: 'c0ffee', date: '2001-02-03T04:05:06.000Z' });
    const code = fs.readFileSync(out, 'utf8');
    expect(code).toContain('"c0ffee"');
    // Optional native addons (ssh2) are stubbed so their JavaScript fallback is used.
    expect(code).not.toMatch(/require\(["'][^"']+\.node["']\)/);
    const res = await execa(process.execPath, [out, 'version', '--json']);
    expect(JSON.parse(res.stdout)).toMatchObject({
      commit: 'c0ffee',
      date: '2001-02-03T04:05:06.000Z',
    });
    fs.rmSync(path.dirname(out), { recursive: true });
  },
);

it(
  'compiles the given release public key into ' + 'the bundle for the updater, reproducibly',
  async () => {
    const key = await createReleaseKey();
    const dir = fs.mkdtempSync(path.join(work, 'bundle-key-'));
    const [a, b, none] = ['a.cjs', 'b.cjs', 'none.cjs'].map((f) => path.join(dir, f));
    await bundleAgent(a, STAMP, key.publicKeyArmored);
    await bundleAgent(b, STAMP, key.publicKeyArmored);
    await bundleAgent(none, STAMP);
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);

    // The key is in the bundle as a JavaScript string literal (esbuild define).
    const literal = /"(-----BEGIN PGP PUBLIC KEY BLOCK-----[^"]*)"/.exec(
      fs.readFileSync(a, 'utf8'),
    );
    const embedded = JSON.parse(`"${literal![1]}"`) as string;
    const fingerprint = (await openpgp.readKey({ armoredKey: embedded })).getFingerprint();
    const expected = (await openpgp.readKey({ armoredKey: key.publicKeyArmored })).getFingerprint();
    expect(fingerprint).toBe(expected);

    const args = await installWithoutKeyFile(key, 'bundle');
    const withKey = await runAgent([process.execPath, a], args);
    expect(withKey.all).toBe('update available: 1.0.0 -> 1.1.0');
    const withoutKey = await runAgent([process.execPath, none], args);
    expect(withoutKey.exitCode).toBe(1);
    expect(withoutKey.all).toMatch(/no trusted release key is configured/);
  },
);

it('refuses to embed anything but an armoured public key', async () => {
  const key = await createReleaseKey();
  const out = path.join(work, 'private.cjs');
  await expect(bundleAgent(out, STAMP, key.privateKey.armor())).rejects.toThrow(/public key/);
  await expect(bundleAgent(out, STAMP, 'not a key')).rejects.toThrow(/public key/);
});
