import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { buildBootstrapExecutable } from '../../bootstrap/single-executable.ts';
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  type ReleaseKey,
} from '../support/dist-host.ts';
import { describeWithTools } from '../support/tools.ts';
import { startSquid, type Squid } from '../support/squid.ts';
import { createWinePrefix, windowsPath, type WinePrefix } from '../support/wine.ts';

// Quotes inside values are covered by arguments.test.ts; cmd.exe's own quote parsing
// would get in the way here, so this value has spaces only.
const TOKEN = 'wine token 42';
const PROXY_PASSWORD = 'pr0xy s3cret';

/** A tiny MSI that writes two of its properties to the registry, token hidden from its log. */
const WXS = `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="certagent bootstrap test" Language="1033" Version="1.0.0"
    Manufacturer="certagent tests" UpgradeCode="6c1e3a52-7d1b-4c57-9a43-1f0c0b6f0a11">
    <Package InstallerVersion="200" Compressed="yes" InstallScope="perMachine" />
    <Property Id="MsiHiddenProperties" Value="PROPERTY_TOKEN;PROPERTY_PROXY_PASSWORD" />
    <Media Id="1" Cabinet="t.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="certagent-bootstrap-test">
          <Component Id="Main" Guid="0f3b7a4e-2c1d-4e5f-8a9b-0c1d2e3f4a5b" Win64="yes">
            <File Id="Readme" Source="readme.txt" KeyPath="yes" />
            <RegistryValue Root="HKLM" Key="Software\\certagent-bootstrap-test" Name="ProxyHost"
              Type="string" Value="[PROPERTY_PROXY_HOST]" />
            <RegistryValue Root="HKLM" Key="Software\\certagent-bootstrap-test" Name="Token"
              Type="string" Value="[PROPERTY_TOKEN]" />
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="All" Level="1"><ComponentRef Id="Main" /></Feature>
  </Product>
</Wix>
`;

describeWithTools(
  'the real bootstrap executable under Wine',
  ['wine', 'wixl', 'osslsigncode', 'squid'],
  () => {
    let dir: string;
    let prefix: WinePrefix;
    let host: DistHost;
    let key: ReleaseKey;
    let exe: string;
    let msi: Buffer;
    let squid: Squid;

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-bootstrap-wine-'));
      key = await createReleaseKey();
      host = await new DistHost().start();
      squid = await startSquid({ basicUsers: { setup: PROXY_PASSWORD } });
      fs.writeFileSync(path.join(dir, 't.wxs'), WXS);
      fs.writeFileSync(path.join(dir, 'readme.txt'), 'test\n');
      await execa('wixl', ['-a', 'x64', '-o', 't.msi', 't.wxs'], { cwd: dir });
      msi = fs.readFileSync(path.join(dir, 't.msi'));

      [prefix, exe] = await Promise.all([
        createWinePrefix(),
        buildBootstrapExecutable(path.join(dir, 'certagent-setup.exe'), {
          releaseKeyArmored: key.publicKeyArmored,
          source: host.origin,
          nodeVersion: pkg.certagent.nodeRuntimeVersion,
          cacheDir: path.resolve('.cache'),
        }),
      ]);
    });

    afterAll(async () => {
      await prefix?.dispose();
      await squid?.stop();
      await host?.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    async function publish(body: Buffer) {
      host.set('windows/certagent-1.0.0-x64.msi', body);
      await publishSigned(host, key, 'windows/manifest.json', {
        schema: 1,
        product: 'certagent',
        sequence: 1,
        issued: new Date().toISOString(),
        expires: new Date(Date.now() + 3_600_000).toISOString(),
        version: '1.0.0',
        files: [
          {
            kind: 'msi',
            arch: 'x64',
            file: 'certagent-1.0.0-x64.msi',
            size: msi.length,
            sha256: createHash('sha256').update(msi).digest('hex'),
          },
        ],
      });
    }

    /**
     * Runs the exe from a batch file, as an administrator's script would: the command line
     * reaches it exactly as written (passing it through wine's own argv would re-quote it),
     * and cmd.exe records the full Windows exit code. Output goes to a file: Node under
     * Wine fails on the handles Wine gives a console-less child.
     */
    async function setup(args: string) {
      const stamp = `${Date.now()}`;
      const [rc, out, script] = ['rc', 'out', 'cmd'].map((ext) =>
        path.join(dir, `${stamp}.${ext}`),
      );
      fs.writeFileSync(
        script,
        `@${windowsPath(exe)} ${args} > ${windowsPath(out)} 2>&1\r\n` +
          `@echo %errorlevel% > ${windowsPath(rc)}\r\n`,
      );
      await prefix.wine(['cmd', '/c', windowsPath(script)]);
      return {
        code: Number(fs.readFileSync(rc, 'utf8').trim()),
        output: fs.readFileSync(out, 'utf8'),
      };
    }

    // Through squid with basic authentication; direct downloads and the system proxy under
    // Wine are covered by wine-release.test.ts.
    function proxyProperties(): string {
      return (
        `PROPERTY_USE_PROXY=1 PROPERTY_PROXY_HOST=127.0.0.1 PROPERTY_PROXY_PORT=${squid.port} ` +
        `PROPERTY_PROXY_USER=setup PROPERTY_PROXY_PASSWORD="${PROXY_PASSWORD}"`
      );
    }

    it('downloads, verifies and installs the MSI silently with the properties', async () => {
      await publish(msi);
      const log = path.join(dir, 'install.log');
      const run = await setup(
        `/i /q /l ${windowsPath(log)} PROPERTY_TOKEN="${TOKEN}" ` + proxyProperties(),
      );
      expect(run.output).toMatch(/msiexec exit code 0: success/);
      expect(run.code).toBe(0);

      const values = await prefix.regQuery('HKLM\\Software\\certagent-bootstrap-test');
      expect(values).toMatchObject({ ProxyHost: '127.0.0.1', Token: TOKEN });
      expect(run.output).toMatch(/PROPERTY_TOKEN=\*\*\*\*\*/);
      const bootstrapLog = fs.readFileSync(`${log}.bootstrap.log`, 'utf8');
      for (const text of [run.output, bootstrapLog]) {
        expect(text).not.toContain('token 42');
        expect(text).not.toContain('s3cret');
      }
    });

    it('refuses a tampered MSI with exit code 1603 and runs nothing', async () => {
      const tampered = Buffer.from(msi);
      tampered[tampered.length - 10] ^= 0xff;
      await publish(tampered);
      const run = await setup(`/i /q PROPERTY_TOKEN=x ${proxyProperties()}`);
      expect(run.code).toBe(1603);
      expect(run.output).toMatch(/does not match .* nothing was installed/s);
    });
  },
);
