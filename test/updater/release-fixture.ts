import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { installLayout, type InstallLayout } from '../../agent/updater/install-layout.ts';
import { statusHealthCheck } from '../../agent/updater/service-health.ts';
import type { UpdaterOptions } from '../../agent/updater/updater.ts';
import { updateStateFile } from '../../agent/updater/update-state.ts';
import type { DistHost, ReleaseKey } from '../support/dist-host.ts';

/**
 * Stand-in agent releases. The real `.bin` is built by the release step; these small shell
 * executables answer the same `version --json`, `run` and `status --json` verbs the
 * updater relies on, and can be told to crash on start.
 */
export interface StandIn {
  version: string;
  platform?: string;
  /** What `version --json` claims, when it should lie. */
  claims?: string;
  crashOnRun?: boolean;
}

/** The script of one stand-in; `run` records "service up" in `serviceFile`. */
function standInScript(release: StandIn, serviceFile: string): string {
  const platform = release.platform ?? 'linux-x64';
  const claims = release.claims ?? release.version;
  const run = release.crashOnRun
    ? 'echo "segfault in new version" >&2; exit 3'
    : `echo ${release.version} > '${serviceFile}'`;
  return (
    `#!/bin/sh
case "$1" in
  version) echo '{"version":"${claims}","platform":"${platform}"}' ;;
  run) ${run} ;;
  status)
    if [ "$(cat '${serviceFile}' 2>/dev/null)" = "${release.version}" ]; then
      echo ` +
    `'{"version":"${release.version}","service":{"running":true,"connected":true,` +
    `"version":"${release.version}"}}'
    else
      echo '{"version":"${release.version}","service":{"running":false}}'
    fi ;;
  *) exit 2 ;;
esac
`
  );
}

/** An unpacked release tree for `release`, in `dir`. */
export function writeReleaseTree(dir: string, release: StandIn, serviceFile: string): void {
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'bin', 'certagent'), standInScript(release, serviceFile), {
    mode: 0o755,
  });
  fs.writeFileSync(path.join(dir, 'VERSION'), `${release.version}\n`);
}

export interface Artifact {
  name: string;
  body: Buffer;
  sha256: string;
}

/** The release packed as `.tar.gz`, or as a real makeself `.bin` when `bin` is set. */
export async function packRelease(
  work: string,
  release: StandIn,
  serviceFile: string,
  format: 'tar.gz' | 'bin' = 'tar.gz',
): Promise<Artifact> {
  const tree = fs.mkdtempSync(path.join(work, `tree-${release.version}-`));
  writeReleaseTree(tree, release, serviceFile);
  const name = `certagent-${release.version}-${release.platform ?? 'linux-x64'}.${format}`;
  const out = path.join(work, name);
  if (format === 'tar.gz') {
    await execa('tar', ['-czf', out, '-C', tree, '.']);
  } else {
    await execa('makeself', [
      '--quiet',
      '--nox11',
      tree,
      out,
      `certagent ${release.version}`,
      'true',
    ]);
  }
  const body = fs.readFileSync(out);
  return { name, body, sha256: createHash('sha256').update(body).digest('hex') };
}

/** A `.bin`-style install of `version` under `root`, `current` pointing at it. */
export function installBin(root: string, release: StandIn, serviceFile: string): InstallLayout {
  const layout = installLayout(root);
  writeReleaseTree(path.join(layout.versions, release.version), release, serviceFile);
  fs.symlinkSync(path.join('versions', release.version), layout.current);
  fs.writeFileSync(layout.kindFile, 'bin\n');
  fs.writeFileSync(serviceFile, `${release.version}\n`);
  return layout;
}

export function feed(
  entries: Record<string, { version: string; file: string; size: number; sha256: string }>,
  overrides: Record<string, unknown> = {},
) {
  return {
    schema: 1,
    product: 'certagent',
    sequence: 10,
    issued: new Date().toISOString(),
    expires: new Date(Date.now() + 86_400_000).toISOString(),
    platforms: entries,
    ...overrides,
  };
}

export function entryOf(artifact: Artifact, version: string, dir = 'linux') {
  return {
    version,
    file: `${dir}/${artifact.name}`,
    size: artifact.body.length,
    sha256: artifact.sha256,
  };
}

/** Updater options for a test install: the service is the stand-in's `run`. */
export function updaterOptions(
  host: DistHost,
  key: ReleaseKey,
  layout: InstallLayout,
  serviceFile: string,
  overrides: Partial<UpdaterOptions> = {},
): UpdaterOptions {
  return {
    source: host.origin,
    trustedKeys: [key.publicKeyArmored],
    kind: 'bin',
    layout,
    stateFile: updateStateFile(path.join(layout.root, 'conf')),
    platform: 'linux-x64',
    installedVersion: path.basename(fs.readlinkSync(layout.current)),
    restartService: async () => {
      fs.rmSync(serviceFile, { force: true });
      await execa(path.join(layout.current, 'bin', 'certagent'), ['run'], { reject: false });
    },
    healthCheck: statusHealthCheck(layout, 100),
    healthTimeoutMs: 1_500,
    downloadDir: path.join(layout.root, 'downloads'),
    feedDeadlineMs: 5_000,
    artifactDeadlineMs: 5_000,
    ...overrides,
  };
}
