import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ociPackager, imageArchiveName } from '../../packaging/oci/packager.ts';
import { IMAGE_LAYOUT } from '../../packaging/oci/image-config.ts';
import type { BuildContext } from '../../packaging/packager.ts';
import { readProductMetadata } from '../../packaging/metadata.ts';
import { addAgent, startManager, type ManagerProcess } from '../support/manager.ts';
import { describeWithTools } from '../support/tools.ts';

const EPOCH = 1_767_225_600; // 2026-01-01T00:00:00Z
const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((p) => fs.existsSync(p)) ?? 'chroot';
const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * Builds a linux-x64 single executable of the agent from this checkout with the Node
 * that runs the tests (same layout as the release one: bundled app injected with
 * postject), so the image holds a real agent without waiting for the release build.
 */
async function buildTestAgent(dir: string): Promise<string> {
  const entry = path.join(dir, 'entry.ts');
  fs.writeFileSync(
    entry,
    [
      `import path from 'node:path';`,
      `import { main } from ${JSON.stringify(path.join(ROOT, 'agent/cli/main.ts'))};`,
      `const called = path.basename(process.argv[1] ?? '');`,
      `const programName = called === 'certagent-config' ? called : 'certagent';`,
      `main(process.argv.slice(2), { programName }).then((c) => { process.exitCode = c; });`,
    ].join('\n'),
  );
  const bin = (name: string) => path.join(ROOT, 'node_modules/.bin', name);
  const app = path.join(dir, 'app.cjs');
  // openpgp's Node build calls createRequire(import.meta.url), which a CJS bundle lacks.
  await execa(bin('esbuild'), [
    entry,
    '--bundle',
    '--platform=node',
    '--format=cjs',
    `--outfile=${app}`,
    '--log-level=warning',
    '--define:import.meta.url=__import_meta_url',
    `--banner:js=var __import_meta_url = require('node:url').pathToFileURL(process.execPath).href;`,
    // ssh2's optional addons, when built locally; it falls back to JS when they are absent.
    '--external:*.node',
  ]);

  const seaConfig = path.join(dir, 'sea.json');
  const blob = path.join(dir, 'sea.blob');
  fs.writeFileSync(
    seaConfig,
    JSON.stringify({ main: app, output: blob, disableExperimentalSEAWarning: true }),
  );
  await execa(process.execPath, ['--experimental-sea-config', seaConfig]);

  const exe = path.join(dir, 'certagent');
  fs.copyFileSync(process.execPath, exe);
  await execa(bin('postject'), [
    exe,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ]);
  fs.chmodSync(exe, 0o755);
  return exe;
}

function buildContext(tmp: string, agent: string, name: string): BuildContext {
  const distDir = path.join(tmp, name, 'dist');
  fs.mkdirSync(distDir, { recursive: true });
  return {
    meta: readProductMetadata(),
    sourceDateEpoch: EPOCH,
    commit: '0123456789abcdef0123456789abcdef01234567',
    distDir,
    workDir: path.join(tmp, name, 'work'),
    executables: { linuxAgent: agent, windowsAgent: '/nonexistent/certagent.exe' },
    signing: {
      openpgpPrivateKeyArmored: '',
      openpgpPublicKeyArmored: '',
      authenticodeCert: '',
      authenticodeKey: '',
      development: true,
    },
    progress: () => {},
  };
}

async function inspect(archive: string, config = false): Promise<any> {
  const args = ['inspect', ...(config ? ['--config'] : []), `docker-archive:${archive}`];
  return JSON.parse((await execa('skopeo', args)).stdout);
}

/** Runs a program of the unpacked image as the image's user, with the image's env. */
function runInImage(rootfs: string, env: string[], args: string[]) {
  const user = `--userspec=${IMAGE_LAYOUT.uid}:${IMAGE_LAYOUT.gid}`;
  // chroot by absolute path: the image's PATH only names /opt/certagent.
  return execa(CHROOT, [user, rootfs, ...args], {
    env: Object.fromEntries(
      env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    ),
    extendEnv: false,
    reject: false,
  });
}

describeWithTools(
  'OCI image (umoci, skopeo)',
  ['umoci', 'skopeo', 'tar', 'chroot', 'ldd', 'openssl'],
  () => {
    let tmp: string;
    let archive: string;
    let rootfs: string;
    let imageEnv: string[];

    beforeAll(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-oci-'));
      const agent = await buildTestAgent(fs.mkdtempSync(path.join(tmp, 'sea-')));
      [archive] = (await ociPackager.build(buildContext(tmp, agent, 'a'))).map((a) => a.path);

      const layout = path.join(tmp, 'unpacked-layout');
      await execa('skopeo', ['copy', '--quiet', `docker-archive:${archive}`, `oci:${layout}:test`]);
      await execa('umoci', ['unpack', '--image', `${layout}:test`, path.join(tmp, 'bundle')]);
      rootfs = path.join(tmp, 'bundle/rootfs');
      imageEnv = (await inspect(archive, true)).config.Env;
    });

    afterAll(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('names the archive after the version and tags it name:version', async () => {
      const meta = readProductMetadata();
      expect(path.basename(archive)).toBe(imageArchiveName(meta.version));
      const manifest = await execa('tar', ['-xOf', archive, 'manifest.json']);
      expect(JSON.parse(manifest.stdout)[0].RepoTags).toEqual([
        `docker.io/library/${meta.name}:${meta.version}`,
      ]);
    });

    it(
      'stores its layer gzip-compressed, so ' + 'the archive is far smaller than the agent',
      async () => {
        const manifest = JSON.parse(
          (await execa('tar', ['-xOf', archive, 'manifest.json'])).stdout,
        );
        const [layer] = manifest[0].Layers as string[];
        expect(layer).toMatch(/^[0-9a-f]{64}\.tar\.gz$/);
        const out = path.join(tmp, 'layer-check');
        fs.mkdirSync(out);
        await execa('tar', ['-xf', archive, '-C', out, layer]);
        expect([...fs.readFileSync(path.join(out, layer)).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
        // The legacy layout (<id>/layer.tar) that older docker versions read points at it too.
        const { stdout: listing } = await execa('tar', ['-tvf', archive]);
        expect(listing).toMatch(
          new RegExp(`/layer\\.tar -> \\.\\./${layer.replace(/\./g, '\\.')}$`, 'm'),
        );

        const agent = fs.statSync(path.join(rootfs, 'opt/certagent/certagent')).size;
        expect(fs.statSync(archive).size).toBeLessThan(agent * 0.6);
      },
    );

    it('carries the OCI labels, with created taken from SOURCE_DATE_EPOCH', async () => {
      const meta = readProductMetadata();
      const info = await inspect(archive);
      expect(info.Created).toBe('2026-01-01T00:00:00Z');
      expect(info.Architecture).toBe('amd64');
      expect(info.Os).toBe('linux');
      expect(info.Labels).toMatchObject({
        'org.opencontainers.image.version': meta.version,
        'org.opencontainers.image.revision': '0123456789abcdef0123456789abcdef01234567',
        'org.opencontainers.image.source': meta.homepage,
        'org.opencontainers.image.licenses': meta.license,
        'org.opencontainers.image.created': '2026-01-01T00:00:00Z',
      });
    });

    it('runs the agent as uid 10001 with entrypoint, cmd run, /base volume and env', async () => {
      const { config } = await inspect(archive, true);
      expect(config.User).toBe('10001:10001');
      expect(config.Entrypoint).toEqual(['/opt/certagent/certagent']);
      expect(config.Cmd).toEqual(['run']);
      expect(Object.keys(config.Volumes)).toEqual(['/base']);
      expect(config.Env).toEqual(
        expect.arrayContaining([
          'CERTAGENT_BASE_DIR=/base',
          'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
          'NODE_OPTIONS=--use-openssl-ca',
        ]),
      );
    });

    it('has no shell, a non-root user, a private /base and a sticky /tmp', () => {
      expect(fs.existsSync(path.join(rootfs, 'bin/sh'))).toBe(false);
      expect(fs.existsSync(path.join(rootfs, 'usr/bin/sh'))).toBe(false);
      expect(fs.readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8')).toMatch(
        /^certagent:x:10001:10001:/m,
      );
      const base = fs.statSync(path.join(rootfs, 'base'));
      expect([base.uid, base.gid, base.mode & 0o7777]).toEqual([10001, 10001, 0o700]);
      expect(fs.statSync(path.join(rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
      const agent = fs.statSync(path.join(rootfs, 'opt/certagent/certagent'));
      expect([agent.uid, agent.mode & 0o777]).toEqual([0, 0o755]);
      expect(
        fs.readFileSync(path.join(rootfs, 'etc/ssl/certs/ca-certificates.crt'), 'utf8'),
      ).toContain('BEGIN CERTIFICATE');
    });

    it('starts the entrypoint from the unpacked rootfs as uid 10001 (version)', async () => {
      const r = await runInImage(rootfs, imageEnv, [
        '/opt/certagent/certagent',
        'version',
        '--json',
      ]);
      expect(r.exitCode).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ name: 'certagent', platform: 'linux-x64' });

      const config = await runInImage(rootfs, imageEnv, [
        '/opt/certagent/certagent-config',
        '--help',
      ]);
      expect(config.stdout).toContain('Usage: certagent-config');
    });

    describe('register against the reference manager on loopback', () => {
      let manager: ManagerProcess;

      beforeAll(async () => {
        manager = await startManager();
        // What `-v /etc/.../ca.crt:/certs/ca.crt` mounts in the container.
        fs.mkdirSync(path.join(rootfs, 'certs'));
        fs.copyFileSync(manager.caPath, path.join(rootfs, 'certs/manager-ca.pem'));
      });

      afterAll(async () => {
        await manager?.stop();
      });

      it(
        'trusts only the image CA bundle by ' + 'default, so a private-CA manager is refused',
        async () => {
          const { token } = await addAgent(manager.dataDir, 'image-default-trust');
          const r = await runInImage(
            rootfs,
            [...imageEnv, `CERTAGENT_TOKEN=${token}`],
            ['/opt/certagent/certagent', 'register', '--server', manager.url],
          );
          expect(r.exitCode).toBe(1);
          expect(r.stderr).toMatch(/certificate|CA/i);
          const conf = path.join(rootfs, 'base/conf');
          const kept = fs.existsSync(conf) ? fs.readdirSync(conf) : [];
          expect(kept.filter((f) => /identity|agent\.(crt|key|pem)/.test(f))).toEqual([]);
        },
      );

      it(
        'registers with --token as uid 10001 ' + 'when SSL_CERT_FILE names the mounted CA',
        async () => {
          const { token } = await addAgent(manager.dataDir, 'image-agent');
          const env = [
            ...imageEnv.filter((e) => !e.startsWith('SSL_CERT_FILE=')),
            'SSL_CERT_FILE=/certs/manager-ca.pem',
          ];
          const r = await runInImage(rootfs, env, [
            '/opt/certagent/certagent',
            'register',
            '--token',
            token,
            '--server',
            manager.url,
          ]);
          expect(r.stderr).not.toMatch(/error/i);
          expect(r.exitCode).toBe(0);
          expect(r.stdout).toMatch(/registered as image-agent/);

          // Written into the /base volume, owned by the image user, secrets private.
          const conf = path.join(rootfs, 'base/conf');
          const written = fs.readdirSync(conf).map((f) => fs.statSync(path.join(conf, f)));
          expect(written.length).toBeGreaterThan(0);
          for (const st of written) expect(st.uid).toBe(IMAGE_LAYOUT.uid);
          expect(fs.existsSync(path.join(conf, 'agent.pem'))).toBe(true);
          expect(fs.statSync(path.join(conf, 'agent.key')).mode & 0o777).toBe(0o600);
        },
      );
    });

    // Byte-for-byte reproducibility of the image archive is checked on two real release
    // runs (test/packaging/release.test.ts), not on a second packager call here.

    it('refuses a layout whose layer blob was tampered with', async () => {
      const layout = path.join(tmp, 'tamper-layout');
      await execa('skopeo', ['copy', '--quiet', `docker-archive:${archive}`, `oci:${layout}:t`]);
      const blobs = path.join(layout, 'blobs/sha256');
      const biggest = fs
        .readdirSync(blobs)
        .map((b) => path.join(blobs, b))
        .sort((x, y) => fs.statSync(y).size - fs.statSync(x).size)[0];
      const fd = fs.openSync(biggest, 'r+');
      fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 4096);
      fs.closeSync(fd);

      const r = await execa(
        'umoci',
        ['unpack', '--image', `${layout}:t`, path.join(tmp, 'tampered')],
        {
          reject: false,
        },
      );
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/digest|checksum|verif|corrupt/i);
    });

    it('names the missing agent executable instead of failing inside tar', async () => {
      const ctx = buildContext(tmp, path.join(tmp, 'no-such-agent'), 'c');
      await expect(ociPackager.build(ctx)).rejects.toThrow(/no-such-agent does not exist/);
    });
  },
);
