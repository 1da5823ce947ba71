import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installLayout, type InstallLayout } from '../../agent/updater/install-layout.ts';
import {
  createReleaseKey,
  DistHost,
  publishSigned,
  type ReleaseKey,
} from '../support/dist-host.ts';
import {
  addAgent,
  AGENT_BIN,
  managerCli,
  startManager,
  tempDir,
  waitFor,
  type ManagerProcess,
} from '../support/manager.ts';
import { feed } from './release-fixture.ts';

/**
 * Issue 8's happy path end to end: a `.bin`-style install under a temp program dir, whose
 * versions are small wrappers running this checkout's agent as version N or N+1, registered
 * with a real manager; `update --now` against a loopback dist host moves it to N+1 and the
 * manager sees the new version in the heartbeats of the restarted service.
 */
const FROM = '4.2.0';
const TO = '4.3.0';

let manager: ManagerProcess;
let host: DistHost;
let key: ReleaseKey;
let work: string;
let layout: InstallLayout;
let baseDir: string;
let serviceDir: string;
let service: ResultPromise | undefined;

beforeAll(async () => {
  work = tempDir('manager-sees-update');
  baseDir = path.join(work, 'base');
  serviceDir = path.join(work, 'service-manager');
  fs.mkdirSync(serviceDir);
  key = await createReleaseKey();
  host = await new DistHost().start();
  manager = await startManager();
  layout = installAt(path.join(work, 'opt-certagent'));
});

afterAll(async () => {
  await stopService();
  await manager?.stop();
  await host?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

/** The agent executable of one version: this checkout's agent, claiming to be `version`. */
function wrapperScript(version: string, programDir: string): string {
  return `#!/bin/sh
CERTAGENT_VERSION_OVERRIDE='${version}' CERTAGENT_PROGRAM_DIR='${programDir}' \\
CERTAGENT_BASE_DIR='${baseDir}' CERTAGENT_DIST_URL='${host.origin}' \\
exec '${process.execPath}' '${AGENT_BIN}' "$@"
`;
}

function writeVersionTree(dir: string, version: string, programDir: string): void {
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'bin', 'certagent'), wrapperScript(version, programDir), {
    mode: 0o755,
  });
  fs.writeFileSync(path.join(dir, 'VERSION'), `${version}\n`);
}

/** What the .bin installer leaves: versions/<N>, `current`, install-kind, release key. */
function installAt(root: string): InstallLayout {
  const installed = installLayout(root);
  writeVersionTree(path.join(installed.versions, FROM), FROM, root);
  fs.symlinkSync(path.join('versions', FROM), installed.current);
  fs.writeFileSync(installed.kindFile, 'bin\n');
  fs.writeFileSync(path.join(root, 'release-key.asc'), key.publicKeyArmored);
  return installed;
}

/** The N+1 release as the dist host serves it, and its signed feed. */
async function publishNext(): Promise<void> {
  const tree = path.join(work, `tree-${TO}`);
  writeVersionTree(tree, TO, layout.root);
  const name = `certagent-${TO}-linux-x64.tar.gz`;
  const archive = path.join(work, name);
  await execa('tar', ['-czf', archive, '-C', tree, '.']);
  const body = fs.readFileSync(archive);
  host.set(`linux/${name}`, body);
  const entry = {
    version: TO,
    file: `linux/${name}`,
    size: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
  };
  await publishSigned(host, key, 'feed/feed.json', feed({ 'linux-x64': entry }));
}

function currentExecutable(): string {
  return path.join(layout.current, 'bin', 'certagent');
}

function startService(): void {
  service = execa(currentExecutable(), ['run'], { reject: false, stdin: 'ignore' });
}

async function stopService(): Promise<void> {
  service?.kill('SIGTERM');
  await service;
  service = undefined;
}

/**
 * The updater restarts the service with `systemctl restart certagent` (not injectable from
 * the CLI), so `update --now` gets this stand-in systemctl first on its PATH. It asks the
 * test, which plays the service manager, to restart the service, and waits for it.
 */
function fakeSystemctl(): string {
  const bin = path.join(serviceDir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(
    path.join(bin, 'systemctl'),
    `#!/bin/sh
case "$1" in
  is-system-running) echo running ;;
  restart)
    : > '${serviceDir}/restart-requested'
    i=0
    while [ ! -e '${serviceDir}/restart-done' ]; do
      i=$((i + 1)); [ "$i" -gt 600 ] && exit 1; sleep 0.1
    done
    rm -f '${serviceDir}/restart-done' ;;
  *) exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
  return bin;
}

/** Answers one restart request: stop `run`, start it again from the new `current`. */
async function serveOneRestart(): Promise<void> {
  const request = path.join(serviceDir, 'restart-requested');
  await waitFor('the updater to ask for a service restart', async () => fs.existsSync(request));
  fs.rmSync(request);
  await stopService();
  startService();
  fs.writeFileSync(path.join(serviceDir, 'restart-done'), '');
}

async function versionOnManager(name: string): Promise<string | null | undefined> {
  const res = await managerCli(['agents', 'list', '--data', manager.dataDir, '--json']);
  expect(res.exitCode).toBe(0);
  const rows = JSON.parse(res.stdout) as Array<{ name: string; version: string | null }>;
  return rows.find((r) => r.name === name)?.version;
}

describe('.bin install updated N -> N+1, seen by the manager', () => {
  it('the restarted service reports the new version to the manager', async () => {
    const { token } = await addAgent(manager.dataDir, 'bin-agent');
    const registered = await execa(
      currentExecutable(),
      ['register', '--server', manager.url, '--ca', manager.caPath],
      { reject: false, stdin: 'ignore', env: { CERTAGENT_TOKEN: token } },
    );
    expect(registered.stderr).toBe('');
    expect(registered.exitCode).toBe(0);

    startService();
    await waitFor('the manager to see version N', async () => {
      return (await versionOnManager('bin-agent')) === FROM;
    });

    await publishNext();
    const path_ = `${fakeSystemctl()}:${process.env.PATH ?? ''}`;
    const [update] = await Promise.all([
      execa(currentExecutable(), ['update', '--now'], {
        reject: false,
        stdin: 'ignore',
        env: { PATH: path_ },
      }),
      serveOneRestart(),
    ]);
    expect(update.stderr).toBe('');
    expect(update.exitCode).toBe(0);
    expect(update.stdout).toContain(TO);

    expect(fs.readlinkSync(layout.current)).toBe(path.join('versions', TO));
    await waitFor('the manager to see version N+1', async () => {
      return (await versionOnManager('bin-agent')) === TO;
    });
    expect(await versionOnManager('bin-agent')).toBe(TO);
  }, 60_000);
});
