import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { loadAgentConfig, saveAgentConfig, setConfigValue } from '../config/agent-config.ts';
import type { AgentFiles } from '../config/agent-files.ts';
import { SecretBox } from '../config/secret-box.ts';
import { loadIdentity } from '../registration/agent-identity.ts';
import { registerAgent } from '../registration/register-agent.ts';
import {
  readPendingToken,
  removePendingToken,
  savePendingToken,
  type PendingToken,
} from './pending-token.ts';

/**
 * Where the MSI hands its PROPERTY_* values to the agent (packaging/msi/properties.ts):
 * one string value each under this key, written by Windows Installer as LocalSystem.
 */
export const INSTALL_KEY = 'HKLM\\SOFTWARE\\certagent\\Install';

/** PROPERTY_AUTOUPDATE's table default: the property was not given on the command line. */
export const AUTOUPDATE_NOT_GIVEN = 'default';

/** The values the MSI left for the agent; reading and deleting them. */
export interface InstallRegistry {
  /** Value name -> data, or null when the key does not exist. */
  read(): Promise<Record<string, string> | null>;
  delete(names: string[]): Promise<void>;
}

/** Runs `reg.exe ARGS`; the default runs it on Windows, tests run it under Wine. */
export type RegRunner = (args: string[]) => Promise<{ exitCode: number; stdout: string }>;

const runReg: RegRunner = async (args) => {
  const r = await execa('reg', args, { reject: false, windowsHide: true });
  return { exitCode: r.exitCode ?? 1, stdout: r.stdout };
};

/** The install key through `reg query` / `reg delete`, 64-bit view, nothing native. */
export function regExeRegistry(run: RegRunner = runReg, key = INSTALL_KEY): InstallRegistry {
  return {
    async read() {
      const r = await run(['query', key, '/reg:64']);
      return r.exitCode === 0 ? parseRegQuery(r.stdout) : null;
    },
    async delete(names) {
      for (const name of names) await run(['delete', key, '/v', name, '/f', '/reg:64']);
    },
  };
}

/** Parses `reg query` lines (`    Name    REG_SZ    Data`) into name -> data. */
export function parseRegQuery(output: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s{2,}(\S.*?)\s+REG_[A-Z_]+(?:\s(.*))?$/.exec(line);
    if (m) values[m[1]] = (m[2] ?? '').trim();
  }
  return values;
}

/** Maps the MSI's values to `config set` keys; an empty value means "not given". */
const PROXY_VALUES: Array<[string, string]> = [
  ['ProxyPacUrl', 'proxy.pac-url'],
  ['ProxyHost', 'proxy.host'],
  ['ProxyPort', 'proxy.port'],
  ['ProxyDomain', 'proxy.domain'],
  ['ProxyUser', 'proxy.user'],
  ['ProxyPassword', 'proxy.password'],
];

export interface ApplyDeps {
  registry: InstallRegistry;
  files: AgentFiles;
  log: Logger;
  /**
   * Registers with the token (registerAgent), trusting caFile when the installer gave one;
   * throws when the manager refuses or is down.
   */
  register(token: string, server: string, caFile?: string): Promise<void>;
}

/** Values kept until registration succeeds: the CA goes with the token it is needed for. */
const KEPT_FOR_REGISTRATION = ['Token', 'ServerCa'];

export type ApplyOutcome = 'nothing' | 'applied' | 'registered' | 'registration-failed';

/**
 * Applies what a silent MSI install was given, on the agent's first start after it:
 * auto-update and proxy into conf/agent.json (the password sealed), then registration with
 * the token. Values given empty or not at all leave the configuration as it is, which is
 * what keeps settings across an upgrade run without properties. Every value is deleted
 * once applied; the token (and the CA file given to trust the manager) only after
 * registration succeeded, so a manager that is down or a CA file not yet in place is
 * retried on the next start instead of losing the token.
 */
export async function applyInstallProperties(deps: ApplyDeps): Promise<ApplyOutcome> {
  const values = await deps.registry.read();
  if (!values || Object.keys(values).length === 0) {
    const pending = readPendingToken(deps.files);
    return pending ? retryPendingToken(deps, pending) : 'nothing';
  }

  const fresh = !fs.existsSync(deps.files.config);
  const config = loadAgentConfig(deps.files.config);
  const box = () => SecretBox.open(deps.files.secretKey);
  const autoUpdate = values.AutoUpdate;
  if (autoUpdate !== undefined && (autoUpdate !== AUTOUPDATE_NOT_GIVEN || fresh)) {
    config.autoUpdate = autoUpdate !== '';
  }

  if (values.UseProxy === '1' || values.ProxyHost || values.ProxyPacUrl) {
    for (const [name, key] of PROXY_VALUES) {
      if (values[name]) setConfigValue(config, key, values[name], box);
    }
  }
  if (values.ServerUrl) config.server = values.ServerUrl;
  saveAgentConfig(deps.files.config, config);
  deps.log.info(
    { autoUpdate: config.autoUpdate, proxy: Boolean(config.proxy.host || config.proxy.pacUrl) },
    'applied the installer properties',
  );

  // Without a token the CA has nothing to be used for: the trust of an earlier registration
  // is pinned in conf/server-ca.pem, which no install or upgrade touches.
  const kept = values.Token ? KEPT_FOR_REGISTRATION : [];
  await deps.registry.delete(Object.keys(values).filter((v) => !kept.includes(v)));
  if (values.Token) {
    return registerWithToken(deps, values.Token, config.server, values.ServerCa || undefined);
  }
  // An upgrade run without properties: a token of the earlier install may still be pending.
  const pending = readPendingToken(deps.files);
  return pending ? retryPendingToken(deps, pending) : 'applied';
}

/** Registration with the token an earlier start kept sealed (see pending-token.ts). */
async function retryPendingToken(deps: ApplyDeps, pending: PendingToken): Promise<ApplyOutcome> {
  const { server } = loadAgentConfig(deps.files.config);
  deps.log.info('retrying registration with the kept installer token');
  return registerWithToken(deps, pending.token, server, pending.caFile);
}

async function registerWithToken(
  deps: ApplyDeps,
  token: string,
  server: string | undefined,
  caFile: string | undefined,
): Promise<ApplyOutcome> {
  if (loadIdentity(deps.files)) {
    // A reinstall or upgrade given a token again: the identity stands, the token is dropped.
    await deps.registry.delete(KEPT_FOR_REGISTRATION);
    removePendingToken(deps.files);
    deps.log.info('already registered; the installer token was removed unused');
    return 'applied';
  }
  // Kept sealed in conf/ before any attempt: an upgrade may drop the registry copy.
  savePendingToken(deps.files, { token, caFile });
  if (!server) {
    deps.log.error(
      { key: INSTALL_KEY },
      'installer gave a token but no server URL: reinstall with ' +
        'PROPERTY_SERVER_URL or run certagent register --server URL',
    );
    return 'registration-failed';
  }
  const caProblem = caFile === undefined ? undefined : checkCaFile(caFile);
  if (caProblem) {
    deps.log.error(
      { key: INSTALL_KEY, caFile },
      `PROPERTY_SERVER_CA ${caFile} cannot be used: ${caProblem}; put the ` +
        `manager's CA certificate (PEM) at that path or reinstall with PROPERTY_SERVER_CA=<PEM ` +
        `file>; the token is kept and registration retried at next start`,
    );
    return 'registration-failed';
  }
  try {
    await deps.register(token, server, caFile);
  } catch (err) {
    deps.log.error(
      { err, server, caFile },
      'registration with the installer token failed; retried at next start',
    );
    return 'registration-failed';
  }
  await deps.registry.delete(KEPT_FOR_REGISTRATION);
  removePendingToken(deps.files);
  deps.log.info({ server }, 'registered with the installer token; token removed from the registry');
  return 'registered';
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Why the installer's CA file cannot be trusted, or undefined when it holds only PEM
 * certificates. Checked before registering so that a wrong path is reported as such rather
 * than as a TLS failure against the manager.
 */
export function checkCaFile(file: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return 'it holds no PEM certificate (-----BEGIN CERTIFICATE-----)';
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      return `certificate ${i + 1} in it does not parse`;
    }
  }
  return undefined;
}

/** The registration the installer's token triggers: registerAgent with the installer's CA. */
export function installerRegistration(files: AgentFiles, log: Logger): ApplyDeps['register'] {
  return async (token, server, caFile) => {
    await registerAgent(files, { token, server, caFile }, log);
  };
}

/**
 * The one call `certagent run` makes on Windows before it checks the registration: applies
 * what the MSI left and registers with its token. Off Windows it does nothing.
 */
export async function applyWindowsInstallOnStart(
  files: AgentFiles,
  log: Logger,
  platform = process.platform,
): Promise<ApplyOutcome> {
  if (platform !== 'win32') return 'nothing';
  return applyInstallProperties({
    registry: regExeRegistry(),
    files,
    log,
    register: installerRegistration(files, log),
  });
}
