import { PassThrough } from 'node:stream';
import { confirm, input, password } from '@inquirer/prompts';
import { UsageError } from '../cli/errors.ts';
import type { CliContext } from '../cli/context.ts';
import { createLogger } from '../logging/logger.ts';
import { loadIdentity } from '../registration/agent-identity.ts';
import { registerAgent } from '../registration/register-agent.ts';
import {
  loadAgentConfig,
  saveAgentConfig,
  setConfigValue,
  type AgentConfig,
} from './agent-config.ts';
import { agentFiles } from './agent-files.ts';
import type { AgentPaths } from './paths.ts';
import { SecretBox } from './secret-box.ts';

/** Where the prompts read and write; the terminal by default, streams in tests. */
export interface PromptIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}

/** The three prompt kinds, bound to one PromptIo. */
function promptsOn(io?: PromptIo) {
  return {
    yes: (message: string, value: boolean) =>
      confirm({ message, default: value }, forOnePrompt(io)),
    text: (message: string, value = '', validate?: (v: string) => true | string) =>
      input({ message, default: value, validate }, forOnePrompt(io)),
    secret: (message: string) => password({ message, mask: '*' }, forOnePrompt(io)),
  };
}

// @inquirer pipes its output into the given stream and ends it when the prompt is done:
// harmless for process.stdout, but a caller's stream would be closed after the first
// prompt and every later prompt would write nowhere and wait forever. Each prompt gets
// its own pass-through, piped on without passing the end along.
function forOnePrompt(io?: PromptIo): PromptIo | undefined {
  if (!io) return undefined;
  const output = new PassThrough();
  output.pipe(io.output, { end: false });
  return { input: io.input, output };
}

type Prompts = ReturnType<typeof promptsOn>;

/**
 * `config interactive`: registration when not yet done, then proxy and auto-update.
 * Each answer goes through the same parser as `config set`, so both accept the same values.
 */
export async function runConfigInteractive(
  paths: AgentPaths,
  ctx: Pick<CliContext, 'stdout'>,
  io?: PromptIo,
): Promise<void> {
  if (!io && !process.stdin.isTTY) {
    throw new UsageError(
      'config interactive needs a terminal; in scripts use "certagent-config set KEY VALUE" ' +
        '(secret keys read their value from stdin)',
    );
  }
  const ask = promptsOn(io);
  const files = agentFiles(paths);
  if (!loadIdentity(files)) await promptRegistration(paths, ask);

  const config = loadAgentConfig(files.config);
  const set = (key: string, value: string) =>
    setConfigValue(config, key, value, () => SecretBox.open(files.secretKey));
  await promptProxy(config, ask, set);
  set('auto-update', String(await ask.yes('Enable automatic updates?', config.autoUpdate)));

  saveAgentConfig(files.config, config);
  ctx.stdout.write(`configuration saved to ${files.config}\n`);
}

async function promptProxy(
  config: AgentConfig,
  ask: Prompts,
  set: (key: string, value: string) => void,
): Promise<void> {
  const p = config.proxy;
  if (!(await ask.yes('Use a proxy for outbound connections?', !!(p.pacUrl || p.host)))) {
    config.proxy = {};
    return;
  }
  // Each answer is checked as it is typed: a bad value asks again instead of aborting.
  const ask1 = async (key: string, message: string, value?: string) =>
    set(key, await ask.text(message, value, (v) => accepts(config, key, v)));
  await ask1('proxy.pac-url', 'PAC URL (empty for none):', p.pacUrl);
  await ask1('proxy.host', 'Proxy host (empty for none):', p.host);
  await ask1('proxy.port', 'Proxy port:', p.port ? String(p.port) : '');
  await ask1('proxy.domain', 'NTLM domain (empty for none):', p.domain);
  await ask1('proxy.user', 'Proxy user (empty for none):', p.user);
  const pw = await ask.secret('Proxy password (empty keeps the current one):');
  if (pw !== '') set('proxy.password', pw);
}

async function promptRegistration(paths: AgentPaths, ask: Prompts): Promise<void> {
  const token = await ask.secret('Installation token:');
  const server = await ask.text('Management server URL (https://HOST:PORT):');
  const ca = await ask.text('CA file of the server (empty for SSL_CERT_FILE / system roots):');
  const log = createLogger({ logDir: paths.logs, name: 'agent' });
  await registerAgent(agentFiles(paths), { token, server, caFile: ca || undefined }, log);
}

// Whether `config set KEY VALUE` would take the value; its message otherwise. Tried on a
// copy, without the secret box (only the password needs it, and that is not validated).
function accepts(config: AgentConfig, key: string, value: string): true | string {
  try {
    setConfigValue(structuredClone(config), key, value, () => {
      throw new Error('no secrets here');
    });
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}
