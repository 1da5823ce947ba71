import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithTools } from '../support/tools.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';
import {
  addAgent,
  managerCli,
  startManager,
  waitFor,
  type ManagerProcess,
} from '../support/manager.ts';
import { createChroot, type Chroot } from './debian-chroot.ts';

describeWithTools('.bin self-extracting installer', ['makeself', 'debootstrap', 'setpriv'], () => {
  let bin: string;
  let version: string;

  beforeAll(async () => {
    bin = (await ensureArtifacts(['bin'])).files.bin[0];
    version = JSON.parse(fs.readFileSync('package.json', 'utf8')).version;
  });

  it("passes makeself's own SHA-256 check", async () => {
    const res = await execa(bin, ['--check'], { reject: false, all: true });
    expect(res.exitCode).toBe(0);
    expect(res.all).toContain('SHA256 checksums are OK');
  });

  it('refuses to run when one byte of the payload is flipped', async () => {
    const bad = `/tmp/certagent-flipped-${process.pid}.bin`;
    const bytes = fs.readFileSync(bin);
    bytes[bytes.length - 1000] ^= 0x01;
    fs.writeFileSync(bad, bytes, { mode: 0o755 });
    try {
      const check = await execa(bad, ['--check'], { reject: false, all: true });
      expect(check.exitCode).not.toBe(0);
      expect(check.all).toMatch(/Error in SHA256 checksums/);

      const run = await execa(bad, ['--', '--accept-eula', '--skip-register'], {
        reject: false,
        all: true,
      });
      expect(run.exitCode).not.toBe(0);
      expect(run.all).not.toContain('installing');
    } finally {
      fs.rmSync(bad, { force: true });
    }
  });

  it('refuses to run as a non-root user, with a message saying so', async () => {
    const copy = `/tmp/certagent-nonroot-${process.pid}.bin`;
    fs.copyFileSync(bin, copy);
    fs.chmodSync(copy, 0o755);
    try {
      const res = await execa(
        'setpriv',
        ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', copy, '--', '--help'],
        { reject: false, all: true },
      );
      expect(res.exitCode).not.toBe(0);
      expect(res.all).toMatch(/privileges required|use su or sudo/i);
    } finally {
      fs.rmSync(copy, { force: true });
    }
  });

  it('documents its installer options behind --', async () => {
    const res = await execa(bin, ['--', '--help'], { reject: false });
    expect(res.exitCode).toBe(0);
    for (const flag of [
      '--accept-eula',
      '--token',
      '--proxy-host',
      '--proxy-port',
      '--proxy-pac-url',
      '--proxy-domain',
      '--proxy-user',
      '--proxy-password-file',
      '--no-auto-update',
      '--server',
    ]) {
      expect(res.stdout).toContain(flag);
    }
  });

  describeWithTools('run unattended into a Debian chroot without systemd', ['chroot'], () => {
    let chroot: Chroot;

    beforeAll(async () => {
      chroot = await createChroot('bin');
    });
    afterAll(async () => chroot?.dispose());

    it('refuses an unattended run without the EULA or without a token', async () => {
      const noEula = await execa(bin, ['--', '--root', chroot.root, '--token', 'x'], {
        reject: false,
        all: true,
        stdin: 'ignore',
      });
      expect(noEula.exitCode).not.toBe(0);
      expect(noEula.all).toMatch(/licence agreement was not accepted: pass --accept-eula/);

      const noToken = await execa(bin, ['--', '--root', chroot.root, '--accept-eula'], {
        reject: false,
        all: true,
      });
      expect(noToken.exitCode).not.toBe(0);
      expect(noToken.all).toMatch(/no installation token: pass --token-file/);
      expect(fs.existsSync(path.join(chroot.root, 'opt/certagent'))).toBe(false);
    });

    it('rejects a bad proxy port before installing anything', async () => {
      const res = await execa(
        bin,
        [
          '--',
          '--root',
          chroot.root,
          '--accept-eula',
          '--skip-register',
          '--proxy-host',
          'p',
          '--proxy-port',
          '99999',
        ],
        { reject: false, all: true },
      );
      expect(res.exitCode).not.toBe(0);
      expect(res.all).toContain('--proxy-port 99999 is outside 1-65535');
      expect(fs.existsSync(path.join(chroot.root, 'opt/certagent'))).toBe(false);
    });

    it('installs the versioned layout, the SysVinit fallback and the answers', async () => {
      const pw = path.join(chroot.root, '..', `certagent-proxy-pw-${process.pid}`);
      fs.writeFileSync(pw, 's3cret-proxy-pw\n', { mode: 0o600 });
      const res = await execa(
        bin,
        [
          '--',
          '--root',
          chroot.root,
          '--accept-eula',
          '--skip-register',
          '--no-auto-update',
          '--proxy-host',
          'proxy.example.test',
          '--proxy-port',
          '3128',
          '--proxy-user',
          'u1',
          '--proxy-password-file',
          pw,
        ],
        { reject: false, all: true },
      );
      fs.rmSync(pw);
      expect(res.exitCode, res.all).toBe(0);
      expect(res.all).toContain('no systemd running here');
      expect(res.all).not.toContain('s3cret-proxy-pw');
      expect(res.all).not.toContain('could not create the local-store');

      const opt = path.join(chroot.root, 'opt/certagent');
      expect(fs.readlinkSync(path.join(opt, 'current'))).toBe(`versions/${version}`);
      expect(fs.statSync(path.join(opt, 'versions', version, 'certagent')).mode & 0o777).toBe(
        0o755,
      );
      expect(fs.readFileSync(path.join(opt, 'install-kind'), 'utf8')).toBe('bin\n');
      expect(fs.existsSync(path.join(chroot.root, 'etc/init.d/certagent'))).toBe(true);

      const options = path.join(chroot.root, 'var/opt/certagent/conf/install-options.json');
      expect(fs.statSync(options).mode & 0o777).toBe(0o600);
      const answers = JSON.parse(fs.readFileSync(options, 'utf8'));
      expect(answers).toMatchObject({
        autoUpdate: false,
        proxy: { host: 'proxy.example.test', port: '3128', user: 'u1' },
      });
      // The password went to the agent's encrypted configuration, not to this record.
      expect(answers.proxy.password).toBeUndefined();
      const conf = path.join(chroot.root, 'var/opt/certagent/conf');
      for (const f of fs.readdirSync(conf)) {
        expect(fs.readFileSync(path.join(conf, f), 'utf8'), f).not.toContain('s3cret-proxy-pw');
      }
      // The chroot stage (secrets copied in) is gone afterwards.
      expect(
        fs
          .readdirSync(path.join(chroot.root, 'tmp'))
          .filter((f) => f.startsWith('certagent-install')),
      ).toEqual([]);

      const run = await chroot.run(['certagent', 'version']);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain(`certagent ${version}`);
      const cfg = await chroot.run(['certagent-config', '--help']);
      expect(cfg.stdout).toContain('Usage: certagent-config');
      const show = await chroot.run(['certagent-config', 'show']);
      expect(show.stdout).toContain('proxy.example.test');
      expect(show.stdout).not.toContain('s3cret-proxy-pw');
    });
  });

  // The chroot shares this network namespace: the agent inside reaches the loopback manager.
  describeWithTools('register unattended against a loopback manager', ['chroot'], () => {
    let chroot: Chroot;
    let manager: ManagerProcess;
    let secrets: string;

    beforeAll(async () => {
      chroot = await createChroot('bin-register');
      manager = await startManager();
      secrets = fs.mkdtempSync(path.join(path.dirname(chroot.root), 'certagent-bin-secrets-'));
    });
    afterAll(async () => {
      // The installer started the service inside the chroot: stop it before unmounting.
      await chroot?.run(['/etc/init.d/certagent', 'stop']);
      await chroot?.dispose();
      await manager?.stop();
      fs.rmSync(secrets, { recursive: true, force: true });
    });

    const install = (args: string[]) =>
      execa(bin, ['--', '--root', chroot.root, '--accept-eula', ...args], {
        reject: false,
        all: true,
        stdin: 'ignore',
      });

    it(
      'refuses a --ca file that is missing or ' + 'holds no certificate, installing nothing',
      async () => {
        const notPem = path.join(secrets, 'not-a-ca.pem');
        fs.writeFileSync(notPem, 'hello\n');
        const bad = await install(['--skip-register', '--ca', notPem]);
        expect(bad.exitCode).not.toBe(0);
        expect(bad.all).toContain(`--ca file '${notPem}' holds no PEM certificate`);

        const missing = await install(['--skip-register', '--ca', path.join(secrets, 'none.pem')]);
        expect(missing.exitCode).not.toBe(0);
        expect(missing.all).toMatch(/cannot read --ca file/);
        expect(fs.existsSync(path.join(chroot.root, 'opt/certagent'))).toBe(false);
      },
    );

    it(
      'registers with --token-file, --server and ' + '--ca, starts the service, keeps no token',
      async () => {
        const { id, token } = await addAgent(manager.dataDir, 'bin-chroot');
        const tokenFile = path.join(secrets, 'token');
        fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

        const res = await install([
          '--token-file',
          tokenFile,
          '--server',
          manager.url,
          '--ca',
          manager.caPath,
        ]);
        expect(res.exitCode, res.all).toBe(0);
        expect(res.all).toContain('service started');
        expect(res.all).not.toContain(token);

        const listed = await managerCli(['agents', 'list', '--data', manager.dataDir, '--json']);
        expect(listed.exitCode, listed.stderr).toBe(0);
        const agent = (JSON.parse(listed.stdout) as Array<{ id: string; status: string }>).find(
          (a) => a.id === id,
        );
        expect(agent, listed.stdout).toBeDefined();
        expect(agent?.status).not.toBe('Pending');
        // The service the installer started connects with the identity and CA it was given.
        await waitFor('the chroot agent to connect', async () => {
          const now = await managerCli(['agents', 'list', '--data', manager.dataDir, '--json']);
          const rows = JSON.parse(now.stdout) as Array<{ id: string; status: string }>;
          return rows.find((a) => a.id === id)?.status === 'Connected';
        });

        const ca = path.join(chroot.root, 'var/opt/certagent/conf/manager-ca.pem');
        expect(fs.readFileSync(ca, 'utf8')).toBe(fs.readFileSync(manager.caPath, 'utf8'));
        for (const dir of ['opt/certagent', 'var/opt/certagent', 'etc', 'tmp', 'var/log']) {
          for (const file of filesUnder(path.join(chroot.root, dir))) {
            expect(fs.readFileSync(file).includes(token), file).toBe(false);
          }
        }
      },
    );
  });
});

/** Every regular file under `dir` (links not followed). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).flatMap((e) => {
    const full = path.join(e.parentPath, e.name);
    return e.isFile() ? [full] : [];
  });
}
