import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeWithTools } from '../support/tools.ts';
import { ensureArtifacts } from '../support/release-artifacts.ts';
import { parseFormats } from '../../scripts/release/run-release.ts';
import { summaryTable } from '../../scripts/release/summary-table.ts';

const release = (args: string[], env: Record<string, string> = {}) =>
  execa('npx', ['tsx', 'scripts/release.ts', ...args], { reject: false, all: true, env });

describe('release command line', () => {
  it.each([
    ['nope', /unknown format nope/],
    ['deb,zip', /unknown format zip/],
    [',', /\(none given\)/],
  ])('rejects --only %s', (only, message) => {
    expect(() => parseFormats(only)).toThrow(message);
  });

  it('keeps the build order whatever order --only lists', () => {
    expect(parseFormats('bin,deb')).toEqual(['deb', 'bin']);
    expect(parseFormats(undefined)).toEqual(['sea', 'deb', 'rpm', 'bin', 'msi', 'oci']);
  });

  it('exits 2 on an unknown format and on a malformed SOURCE_DATE_EPOCH', async () => {
    const bad = await release(['--only', 'exe']);
    expect(bad.exitCode).toBe(2);
    expect(bad.all).toContain(
      "--only 'exe': unknown format exe; choose from sea,deb,rpm,bin,msi,oci",
    );

    const epoch = await release(['--only', 'deb', '--dist', os.tmpdir()], {
      SOURCE_DATE_EPOCH: 'yesterday',
    });
    expect(epoch.exitCode).toBe(2);
    expect(epoch.all).toContain("SOURCE_DATE_EPOCH='yesterday' is not a number");
  });

  it('prints a table of artifacts with size and SHA-256', () => {
    const table = summaryTable('/d', [
      { file: '/d/a.deb', size: 3 * 1024 * 1024, sha256: 'ab'.repeat(32) },
    ]);
    expect(table.split('\n')[0]).toMatch(/^artifact\s+size\s+sha256/);
    expect(table).toMatch(/a\.deb\s+3\.0 MiB\s+(ab){32}/);
  });
});

// The five artifacts the issue names; the MSI and OCI suites build through their packagers
// directly, so this is the one place where they are compared as `npm run release` makes them.
const COMPARED = ['deb', 'rpm', 'bin', 'msi', 'oci'];
const RELEASE_TOOLS = [
  'dpkg-deb',
  'rpmbuild',
  'makeself',
  'wixl',
  'faketime',
  'osslsigncode',
  'x86_64-w64-mingw32-gcc',
  'umoci',
  'skopeo',
];

describeWithTools('two release builds', RELEASE_TOOLS, () => {
  let first: Record<string, string[]>;
  let second: string;
  let output: string;

  // The second build starts again from the sources: bundle and SEA blob are made anew in
  // another folder, so a path or time leaking into them shows up here. Identical blobs
  // then share the injected executable through the content-keyed cache in .cache/sea-*.
  beforeAll(async () => {
    const built = await ensureArtifacts(COMPARED);
    first = built.files;
    second = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-release-again-'));
    const dist = path.join(second, 'dist');
    // The same commit as the first build, even if commits (of other files) landed since.
    const res = await release(['--only', COMPARED.join(','), '--dist', dist], {
      SOURCE_DATE_EPOCH: String(built.sourceDateEpoch),
      CERTAGENT_BUILD_COMMIT: built.commit,
    });
    second = dist;
    output = res.all ?? '';
    expect(res.exitCode, output).toBe(0);
  }, 1_500_000);

  it('report each step with its time and close with the artifact table', () => {
    expect(output).toMatch(/▶ single executables/);
    expect(output).toMatch(/✔ deb \(\d+\.\d+s\)/);
    expect(output).toMatch(/certagent_[\d.]+_amd64\.deb\s+[\d.]+ MiB\s+[0-9a-f]{64}/);
  });

  it(
    'give byte-identical .deb, .rpm, .bin, MSI ' + 'and image archive from one commit and epoch',
    async () => {
      const sums = fs.readFileSync(path.join(second, 'SHA256SUMS'), 'utf8');
      const files = COMPARED.flatMap((format) => first[format]);
      expect(files.map((f) => path.extname(f)).sort()).toEqual(
        ['.bin', '.deb', '.msi', '.rpm', '.tar'].sort(),
      );
      for (const file of files) {
        const { stdout } = await execa('sha256sum', [file]);
        expect(sums).toContain(`${stdout.split(' ')[0]}  ${path.basename(file)}\n`);
      }
      expect(sums.trim().split('\n')).toHaveLength(files.length);
    },
  );

  it('sign SHA256SUMS with the release key, and the signature fails on altered sums', async () => {
    const armored = fs.readFileSync('.cache/dev-keys/release-key.asc', 'utf8');
    const key = (await openpgp.readPrivateKey({ armoredKey: armored })).toPublic();
    const signature = await openpgp.readSignature({
      armoredSignature: fs.readFileSync(path.join(second, 'SHA256SUMS.asc'), 'utf8'),
    });
    const verify = async (bytes: Uint8Array) => {
      const message = await openpgp.createMessage({ binary: bytes });
      const result = await openpgp.verify({ message, signature, verificationKeys: key });
      return result.signatures[0].verified;
    };
    const sums = fs.readFileSync(path.join(second, 'SHA256SUMS'));
    await expect(verify(sums)).resolves.toBe(true);
    const altered = Buffer.from(sums);
    altered[0] = altered[0] === 0x30 ? 0x31 : 0x30;
    await expect(verify(altered)).rejects.toThrow(/digest did not match|signature/i);
  });
});
