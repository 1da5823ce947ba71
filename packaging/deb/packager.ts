import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OperationalError } from '../../agent/cli/errors.ts';
import type { Artifact, BuildContext, Packager } from '../packager.ts';
import {
  mkdir,
  normaliseTree,
  stageProgramTree,
  writeGzip,
} from '../linux-service/program-tree.ts';
import { changelogFile, controlFile, copyrightFile, debianVersion } from './control.ts';
import { debMaintainerScripts } from './maintainer-scripts.ts';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/**
 * xz level for the data member. Level 3 with threads packs the 125 MB executable in a
 * fraction of -6's time for a few MB more (measured: see the report of issue 3).
 */
const XZ_LEVEL = '1';

/** Builds dist/certagent_<version>_amd64.deb with dpkg-deb, reproducibly. */
export const debPackager: Packager = {
  format: 'deb',
  tools: ['dpkg-dev', 'fakeroot', 'lintian', 'xz-utils'],
  build: buildDeb,
};

async function buildDeb(ctx: BuildContext): Promise<Artifact[]> {
  const root = path.join(ctx.workDir, 'deb', 'root');
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });

  ctx.progress('deb: staging files');
  stageProgramTree(root, {
    executable: ctx.executables.linuxAgent,
    installKind: 'deb',
    unitDir: 'lib/systemd/system',
    sysvinit: true,
    sourceDateEpoch: ctx.sourceDateEpoch,
  });
  stageDocs(root, ctx);
  stageControl(root, ctx);
  normaliseTree(root, ctx.sourceDateEpoch);

  ctx.progress('deb: dpkg-deb');
  const out = path.join(ctx.distDir, `${ctx.meta.name}_${debianVersion(ctx.meta)}_amd64.deb`);
  await dpkgDeb(root, out, ctx.sourceDateEpoch);
  return [{ path: out, format: 'deb' }];
}

function stageDocs(root: string, ctx: BuildContext): void {
  const doc = mkdir(root, `usr/share/doc/${ctx.meta.name}`);
  fs.writeFileSync(path.join(doc, 'copyright'), copyrightFile(ctx.meta, ctx.sourceDateEpoch), {
    mode: 0o644,
  });
  writeGzip(path.join(doc, 'changelog.gz'), changelogFile(ctx.meta, ctx.sourceDateEpoch));

  const overrides = mkdir(root, 'usr/share/lintian/overrides');
  fs.copyFileSync(path.join(HERE, 'lintian-overrides'), path.join(overrides, ctx.meta.name));
  fs.chmodSync(path.join(overrides, ctx.meta.name), 0o644);
}

function stageControl(root: string, ctx: BuildContext): void {
  const debian = mkdir(root, 'DEBIAN');
  for (const [name, body] of Object.entries(debMaintainerScripts())) {
    fs.writeFileSync(path.join(debian, name), body, { mode: 0o755 });
    fs.chmodSync(path.join(debian, name), 0o755);
  }
  fs.writeFileSync(path.join(debian, 'conffiles'), '/etc/init.d/certagent\n', { mode: 0o644 });
  fs.writeFileSync(path.join(debian, 'md5sums'), md5sums(root), { mode: 0o644 });
  fs.writeFileSync(path.join(debian, 'control'), controlFile(ctx.meta, installedSize(root)), {
    mode: 0o644,
  });
}

// Regular files only, sorted, paths relative to the root: what dpkg and debsums expect.
function md5sums(root: string): string {
  return listFiles(root)
    .filter((rel) => !rel.startsWith('DEBIAN/'))
    .map((rel) => {
      const hash = crypto.createHash('md5').update(fs.readFileSync(path.join(root, rel)));
      return `${hash.digest('hex')}  ${rel}\n`;
    })
    .join('');
}

function installedSize(root: string): number {
  const bytes = listFiles(root).reduce((n, rel) => n + fs.statSync(path.join(root, rel)).size, 0);
  return Math.ceil(bytes / 1024);
}

function listFiles(root: string, rel = ''): string[] {
  return fs
    .readdirSync(path.join(root, rel), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) return listFiles(root, p);
      return e.isFile() ? [p] : [];
    });
}

async function dpkgDeb(root: string, out: string, epoch: number): Promise<void> {
  const args = [
    '--root-owner-group',
    '-Zxz',
    `-z${XZ_LEVEL}`,
    '--threads-max=2',
    '--build',
    root,
    out,
  ];
  const env = { SOURCE_DATE_EPOCH: String(epoch) };
  const res = await execa('dpkg-deb', args, { env, reject: false });
  if (res.exitCode !== 0) {
    throw new OperationalError(
      `dpkg-deb could not build ${out}: ${res.stderr.trim()}. Install dpkg-dev (>= 1.20).`,
      'deb_build',
    );
  }
}
