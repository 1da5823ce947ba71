import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperationalError } from '../../agent/cli/errors.ts';
import type { Artifact, BuildContext, Packager } from '../packager.ts';
import { normaliseTree } from '../linux-service/program-tree.ts';
import {
  SERVICE_FILES,
  maintainerLibrary,
  serviceControlLibrary,
} from '../linux-service/scripts.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');

/**
 * xz level 3 with 2 threads: the 125 MB executable is most of the archive and levels
 * above 3 cost many seconds for little size on 2 cores (see FACTS.md).
 */
const XZ_LEVEL = '1';

/** Builds dist/certagent-<version>-linux-x64.bin: a makeself archive with a SHA-256 check. */
export const binPackager: Packager = {
  format: 'bin',
  tools: ['makeself', 'xz-utils'],
  build: buildBin,
};

async function buildBin(ctx: BuildContext): Promise<Artifact[]> {
  const payload = path.join(ctx.workDir, 'bin', 'payload');
  fs.rmSync(path.dirname(payload), { recursive: true, force: true });
  fs.mkdirSync(payload, { recursive: true });

  ctx.progress('bin: staging payload');
  stagePayload(payload, ctx);
  normaliseTree(payload, ctx.sourceDateEpoch);

  ctx.progress('bin: makeself');
  const out = path.join(ctx.distDir, `${ctx.meta.name}-${ctx.meta.version}-linux-x64.bin`);
  await makeself(payload, out, ctx);
  return [{ path: out, format: 'bin' }];
}

function stagePayload(dir: string, ctx: BuildContext): void {
  const put = (name: string, data: string | Buffer, mode: number) => {
    fs.writeFileSync(path.join(dir, name), data);
    fs.chmodSync(path.join(dir, name), mode);
  };
  put('certagent', fs.readFileSync(ctx.executables.linuxAgent), 0o755);
  put('install.sh', fs.readFileSync(path.join(HERE, 'install.sh')), 0o755);
  put('maintainer.sh', maintainerLibrary(), 0o644);
  put('service-control.sh', serviceControlLibrary(), 0o644);
  put('certagent.service', fs.readFileSync(SERVICE_FILES.systemdUnit), 0o644);
  put('certagent.init', fs.readFileSync(SERVICE_FILES.sysvinitScript), 0o755);
  put('EULA.txt', fs.readFileSync(path.join(REPO, 'LICENSE')), 0o644);
  put('VERSION', `${ctx.meta.version}\n`, 0o644);
}

async function makeself(payload: string, out: string, ctx: BuildContext): Promise<void> {
  const epoch = ctx.sourceDateEpoch;
  // makeself writes its own command line into the archive: relative paths from a fixed
  // working directory keep the temp and dist directories out of it.
  const cwd = path.dirname(payload);
  const helpHeader = 'help-header.txt';
  fs.writeFileSync(
    path.join(cwd, helpHeader),
    `certagent ${ctx.meta.version} installer. Installer options go after '--'; see them with:\n` +
      `  ./${path.basename(out)} -- --help\n`,
  );
  const date = new Date(epoch * 1000).toUTCString();
  const tarExtra = `--mtime=@${epoch} --sort=name --owner=0 --group=0 --numeric-owner`;
  const args = [
    '--sha256',
    '--nomd5',
    '--nocrc',
    '--xz',
    '--complevel',
    XZ_LEVEL,
    '--threads',
    '2',
    '--needroot',
    '--nox11',
    '--tar-quietly',
    '--tar-extra',
    tarExtra,
    '--packaging-date',
    date,
    '--help-header',
    helpHeader,
    path.basename(payload),
    path.basename(out),
    `${ctx.meta.name} ${ctx.meta.version}`,
    './install.sh',
  ];
  const res = await execa('makeself', args, {
    cwd,
    reject: false,
    env: { SOURCE_DATE_EPOCH: String(epoch), TZ: 'UTC' },
  });
  const built = path.join(cwd, path.basename(out));
  if (res.exitCode !== 0 || !fs.existsSync(built)) {
    throw new OperationalError(
      `makeself could not build ${out}: ` +
        `${(res.stdout + res.stderr).trim().split('\n').slice(-5).join('\n')}`,
      'bin_build',
    );
  }
  fs.copyFileSync(built, out);
  fs.rmSync(built);
  fs.chmodSync(out, 0o755);
}
