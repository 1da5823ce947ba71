import { confirm, input, password } from '@inquirer/prompts';
import { UsageError } from '../cli/errors.ts';
import type { CliContext } from '../cli/context.ts';
import { createLogger } from '../logging/logger.ts';
import { loadIdentity } from '../registration/agent-identity.ts';
import { registerAgent } from '../registration/register-agent.ts';
import { loadAgentConfig, saveAgentConfig, setConfigValue } from './agent-config.ts';
import { agentFiles } from './agent-files.ts';
import type { AgentPaths } from './paths.ts';
import { SecretBox } from './secret-box.ts';

/**
 * `config interactive`: registration when not yet done, then proxy and auto-update.
 * Each answer goes through the same parser as `config set`, so both accept the same values.
 */
export async function runConfigInteractive(
  paths: AgentPaths,
  ctx: Pick<CliContext, 'stdout'>,
): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new UsageError(
      'config interactive needs a terminal; use "certagent-config set KEY VALUE" in scripts',
    );
  }
  const files = agentFiles(paths);
  if (!loadIdentity(files)) await promptRegistration(paths);

  const config = loadAgentConfig(files.config);
  const box = () => SecretBox.open(files.secretKey);
  const set = (key: string, value: string) => setConfigValue(config, key, value, box);

  if (
    await confirm({
      message: 'Use a proxy for outbound connections?',
      default: !!(config.proxy.pacUrl || config.proxy.host),
    })
  ) {
    set(
      'proxy.pac-url',
      await input({ message: 'PAC URL (empty for none):', default: config.proxy.pacUrl ?? '' }),
    );
    set(
      'proxy.host',
      await input({ message: 'Proxy host (empty for none):', default: config.proxy.host ?? '' }),
    );
    set(
      'proxy.port',
      await input({
        message: 'Proxy port:',
        default: config.proxy.port ? String(config.proxy.port) : '',
      }),
    );
    set(
      'proxy.domain',
      await input({ message: 'NTLM domain (empty for none):', default: config.proxy.domain ?? '' }),
    );
    set(
      'proxy.user',
      await input({ message: 'Proxy user (empty for none):', default: config.proxy.user ?? '' }),
    );
    const pw = await password({
      message: 'Proxy password (empty keeps the current one):',
      mask: '*',
    });
    if (pw !== '') set('proxy.password', pw);
  } else {
    config.proxy = {};
  }
  config.autoUpdate = await confirm({
    message: 'Enable automatic updates?',
    default: config.autoUpdate,
  });

  saveAgentConfig(files.config, config);
  ctx.stdout.write(`configuration saved to ${files.config}\n`);
}

async function promptRegistration(paths: AgentPaths): Promise<void> {
  const token = await password({ message: 'Installation token:', mask: '*' });
  const server = await input({ message: 'Management server URL (https://HOST:PORT):' });
  const ca = await input({
    message: 'CA file of the server (empty for SSL_CERT_FILE / system roots):',
  });
  const log = createLogger({ logDir: paths.logs, name: 'agent' });
  await registerAgent(agentFiles(paths), { token, server, caFile: ca || undefined }, log);
}
