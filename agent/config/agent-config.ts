import fs from 'node:fs';
import path from 'node:path';
import { OperationalError, UsageError } from '../cli/errors.ts';
import { SecretBox } from './secret-box.ts';
import { assertAutoUpdateAllowed } from '../updater/auto-update-setting.ts';
import { writeFileAtomic } from './atomic-file.ts';

/** Proxy settings; `password` is always stored sealed by SecretBox. */
export interface ProxyConfig {
  pacUrl?: string;
  host?: string;
  port?: number;
  domain?: string;
  user?: string;
  password?: string;
}

/** conf/agent.json. Other modules add their own top-level sections (e.g. credential stores). */
export interface AgentConfig {
  /** The management server URL, set by `register`. */
  server?: string;
  agentId?: string;
  agentName?: string;
  autoUpdate: boolean;
  proxy: ProxyConfig;
  [section: string]: unknown;
}

const DEFAULTS: AgentConfig = { autoUpdate: false, proxy: {} };

export function loadAgentConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(DEFAULTS);
    throw new OperationalError(`cannot read ${file}: ${(err as Error).message}`, 'config-read', {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new OperationalError(
      `${file} is not valid JSON (${(err as Error).message}); ` +
        `fix it or remove it and run certagent-config interactive`,
      'config-parse',
      { cause: err },
    );
  }
  const config = parsed as Partial<AgentConfig>;
  assertConfigShape(file, parsed);
  return { ...structuredClone(DEFAULTS), ...config, proxy: { ...(config.proxy ?? {}) } };
}

const FIELD_TYPES: Record<string, string> = {
  server: 'string',
  agentId: 'string',
  agentName: 'string',
  autoUpdate: 'boolean',
};
const PROXY_TYPES: Record<string, string> = {
  pacUrl: 'string',
  host: 'string',
  port: 'number',
  domain: 'string',
  user: 'string',
  password: 'string',
};

/**
 * Refuses a file whose shape is wrong (null, an array, `"proxy": "x"`): loading it would
 * fail later with a misleading error, and `config set` would write the damage back.
 */
function assertConfigShape(file: string, parsed: unknown): void {
  const bad = (field: string, expected: string) =>
    new OperationalError(
      `${file} is damaged: ${field} must be ${expected}; fix ` +
        `it or restore it from a backup (it was not modified)`,
      'config-shape',
    );
  if (!isPlainObject(parsed)) throw bad('the top level', 'a JSON object');
  for (const [key, type] of Object.entries(FIELD_TYPES)) {
    if (parsed[key] !== undefined && parsed[key] !== null && typeof parsed[key] !== type)
      throw bad(`"${key}"`, `a ${type}`);
  }
  if (parsed.proxy === undefined) return;
  if (!isPlainObject(parsed.proxy)) throw bad('"proxy"', 'an object');
  for (const [key, type] of Object.entries(PROXY_TYPES)) {
    const value = parsed.proxy[key];
    if (value !== undefined && value !== null && typeof value !== type) {
      throw bad(`"proxy.${key}"`, `a ${type}`);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Writes the file atomically (temp file, fsync, rename), mode 0600. */
export function saveAgentConfig(file: string, config: AgentConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
}

interface SettableKey {
  describe: string;
  /** Secret values are never taken as a process argument (see `config set`). */
  secret?: boolean;
  apply(config: AgentConfig, value: string, box: () => SecretBox): void;
}

function proxyString(field: keyof ProxyConfig): SettableKey['apply'] {
  return (config, value) => {
    (config.proxy as Record<string, unknown>)[field] = value === '' ? undefined : value;
  };
}

/** Keys accepted by `config set`, with how each value is parsed. */
export const SETTABLE_KEYS: Record<string, SettableKey> = {
  server: {
    describe: 'https URL of the management server, used by `register` without --server',
    apply(config, value) {
      // Registration talks only TLS to the manager, so a plain http URL is a mistake.
      if (!/^https:\/\/[^/\s]+/i.test(value)) {
        throw new UsageError(
          `server must be an https:// URL such as https://HOST:PORT, not "${value}"`,
        );
      }
      config.server = value;
    },
  },
  'auto-update': {
    describe: 'true or false',
    apply(config, value) {
      if (!/^(true|false|on|off|1|0|yes|no)$/i.test(value)) {
        throw new UsageError(`auto-update must be true or false, not "${value}"`);
      }
      config.autoUpdate = /^(true|on|1|yes)$/i.test(value);
      // deb/rpm/image installs are updated by their package manager (agent/updater).
      assertAutoUpdateAllowed(config.autoUpdate);
    },
  },
  'proxy.pac-url': {
    describe: 'http(s) URL of a PAC file, or empty to clear',
    apply(config, value) {
      if (value !== '' && !isHttpUrl(value)) {
        throw new UsageError(`proxy.pac-url must be an http:// or https:// URL, not "${value}"`);
      }
      config.proxy.pacUrl = value === '' ? undefined : value;
    },
  },
  'proxy.host': { describe: 'proxy host name or address', apply: proxyString('host') },
  'proxy.port': {
    describe: 'proxy port (1-65535)',
    apply(config, value) {
      if (value === '') return void (config.proxy.port = undefined);
      const port = Number(value);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new UsageError(`proxy.port must be an integer between 1 and 65535, not "${value}"`);
      }
      config.proxy.port = port;
    },
  },
  'proxy.domain': { describe: 'NTLM domain', apply: proxyString('domain') },
  'proxy.user': { describe: 'proxy user name', apply: proxyString('user') },
  'proxy.password': {
    describe: 'proxy password (stored encrypted; read from stdin or a hidden prompt)',
    secret: true,
    apply(config, value, box) {
      config.proxy.password = value === '' ? undefined : box().seal(value, 'proxy.password');
    },
  },
};

/** Applies `config set KEY VALUE`; unknown keys are a usage error listing the valid ones. */
export function setConfigValue(
  config: AgentConfig,
  key: string,
  value: string,
  box: () => SecretBox,
): void {
  const entry = SETTABLE_KEYS[key];
  if (!entry) {
    throw new UsageError(
      `unknown configuration key "${key}"; valid keys: ${Object.keys(SETTABLE_KEYS).join(', ')}`,
    );
  }
  entry.apply(config, value, box);
}

/** Whether `key` holds a secret, which `config set` must not take on its command line. */
export function isSecretKey(key: string): boolean {
  return SETTABLE_KEYS[key]?.secret === true;
}

/** The proxy password in clear, for the proxy module only; never log or print it. */
export function revealProxyPassword(config: AgentConfig, box: SecretBox): string | undefined {
  const sealed = config.proxy.password;
  return sealed ? box.open(sealed, 'proxy.password') : undefined;
}

/** A copy safe to print: every sealed value (proxy password, store secrets) masked. */
export function maskedConfig(config: AgentConfig): AgentConfig {
  return maskSealed(structuredClone(config)) as AgentConfig;
}

// Sealed values live in any section (credential stores add their own): mask by form, not
// by key, so a new section cannot leak its ciphertext into `config show`.
function maskSealed(value: unknown): unknown {
  if (SecretBox.isSealed(value)) return '********';
  if (Array.isArray(value)) return value.map(maskSealed);
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value))
      (value as Record<string, unknown>)[k] = maskSealed(v);
  }
  return value;
}

function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
