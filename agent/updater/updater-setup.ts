import { spawn } from 'node:child_process';
import path from 'node:path';
import { execa } from 'execa';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import pkg from '../../package.json' with { type: 'json' };
import { loadAgentConfig, revealProxyPassword, type AgentConfig } from '../config/agent-config.ts';
import { agentFiles } from '../config/agent-files.ts';
import type { AgentPaths } from '../config/paths.ts';
import { SecretBox } from '../config/secret-box.ts';
import { TASK_KINDS } from '../../protocol/tasks.ts';
import { createProxyDispatcher } from '../proxy/dispatcher.ts';
import { registerTaskHandler } from '../service/task-handlers.ts';
import { usesProxy } from '../proxy/proxy-config.ts';
import { releaseKeysFor } from '../trust/release-keys.ts';
import { buildIdentity } from '../version.ts';
import { autoUpdateEffective } from './auto-update-setting.ts';
import {
  currentVersion,
  defaultInstallRoot,
  installLayout,
  readInstallKind,
} from './install-layout.ts';
import { executableIn } from './release-executable.ts';
import { startUpdateSchedule } from './schedule.ts';
import { updateHoldHandler } from './update-hold.ts';
import { statusHealthCheck, systemServiceRestart } from './service-health.ts';
import { loadUpdateState, saveUpdateState, updateStateFile } from './update-state.ts';
import { runUpdate, type UpdaterOptions } from './updater.ts';

export interface UpdaterSetup {
  source?: string;
  installRoot?: string;
  env?: NodeJS.ProcessEnv;
}

/** The distribution host: option, then CERTAGENT_DIST_URL, then the one built in. */
export function distributionSource(setup: UpdaterSetup): string {
  const env = setup.env ?? process.env;
  return setup.source ?? env.CERTAGENT_DIST_URL ?? pkg.certagent.distributionUrl;
}

/** Updater options for this installed agent, from its configuration and install tree. */
export async function updaterFor(paths: AgentPaths, setup: UpdaterSetup = {}) {
  const files = agentFiles(paths);
  const config = loadAgentConfig(files.config);
  const layout = installLayout(setup.installRoot ?? defaultInstallRoot(setup.env));
  const kind = await readInstallKind(layout);
  const options: UpdaterOptions = {
    source: distributionSource(setup),
    trustedKeys: releaseKeysFor(layout.root),
    kind,
    layout,
    stateFile: updateStateFile(paths.conf),
    platform: `${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`,
    installedVersion: (await currentVersion(layout)) ?? buildIdentity().version,
    dispatcher: updateDispatcher(config, files.secretKey),
    restartService: systemServiceRestart(),
    healthCheck: statusHealthCheck(layout, 1_000, kind === 'msi' ? layout.root : layout.current),
    baseDir: paths.base,
    downloadDir:
      kind === 'msi' ? path.join(paths.base, 'updates') : path.join(layout.versions, '.download'),
  };
  return { options, config, kind };
}

/** Downloads follow the agent's proxy settings; the distribution host uses public CAs. */
function updateDispatcher(config: AgentConfig, secretKey: string): Dispatcher | undefined {
  if (!usesProxy(config.proxy)) return undefined;
  const password = config.proxy.password
    ? revealProxyPassword(config, SecretBox.open(secretKey))
    : undefined;
  return createProxyDispatcher({ ...config.proxy, password });
}

/**
 * The service's part of updating: takes the manager's hold-at-version tasks, and starts
 * scheduled checks when auto-update is on for a self-updating install (the next check
 * time goes into the state file for `status`).
 */
export async function startAutoUpdate(
  paths: AgentPaths,
  log: Logger,
): Promise<{ stop(): void } | undefined> {
  registerTaskHandler(TASK_KINDS.updateHold, updateHoldHandler(updateStateFile(paths.conf)));
  let setup: Awaited<ReturnType<typeof updaterFor>>;
  try {
    setup = await updaterFor(paths);
  } catch (err) {
    // The service must run even when updating cannot be set up (say, an unreadable key).
    log.warn({ err }, 'auto-update not started; the agent keeps its version');
    return undefined;
  }
  const { options, config, kind } = setup;
  if (!autoUpdateEffective(config.autoUpdate, kind)) {
    log.info({ kind, setting: config.autoUpdate }, 'auto-update off');
    return undefined;
  }
  return startUpdateSchedule({
    check: async () => {
      const outcome = await runUpdate({ ...options, log }, false);
      log.info({ outcome }, 'update check done');
      // Installing restarts this very service, so it runs in a process of its own.
      if (outcome.status === 'available') await launchUpdateProcess(options, paths);
    },
    onScheduled: (at) => void recordNextCheck(options.stateFile, at).catch(() => undefined),
  });
}

/**
 * Runs `certagent update --now` outside the service: under systemd in a transient unit
 * (a child in the service's cgroup would be killed by the restart it asks for), else as a
 * detached session.
 */
async function launchUpdateProcess(options: UpdaterOptions, paths: AgentPaths): Promise<void> {
  // An MSI install has no versions/ nor `current`: certagent.exe sits in the program folder.
  const exe = executableIn(options.kind === 'msi' ? options.layout.root : options.layout.current);
  const args = ['update', '--now', '--base-dir', paths.base, '--install-root', options.layout.root];
  if (options.kind === 'bin') {
    const viaSystemd = await execa(
      'systemd-run',
      ['--collect', '--unit', `certagent-update-${Date.now()}`, exe, ...args],
      { reject: false },
    );
    if (viaSystemd.exitCode === 0) return;
  }
  const child = spawn(exe, args, { detached: true, stdio: 'ignore' });
  child.unref();
}

async function recordNextCheck(stateFile: string, at: Date): Promise<void> {
  const state = await loadUpdateState(stateFile);
  state.nextCheck = at.toISOString();
  await saveUpdateState(stateFile, state);
}
