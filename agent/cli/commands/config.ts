import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import {
  isSecretKey,
  loadAgentConfig,
  maskedConfig,
  saveAgentConfig,
  setConfigValue,
  SETTABLE_KEYS,
} from '../../config/agent-config.ts';
import { agentFiles } from '../../config/agent-files.ts';
import { SecretBox } from '../../config/secret-box.ts';

export function addConfigCommand(program: Command, ctx: CliContext): void {
  const config = program
    .command('config')
    .description('show and change the agent configuration (conf/agent.json)');
  const keys = Object.entries(SETTABLE_KEYS)
    .map(([k, v]) => `  ${k.padEnd(16)} ${v.describe}`)
    .join('\n');
  const secretKeys = Object.keys(SETTABLE_KEYS).filter(isSecretKey).join(', ');

  config
    .command('show')
    .description('print the configuration, secrets masked')
    .action(() => {
      const cfg = maskedConfig(loadAgentConfig(agentFiles(ctx.paths()).config));
      ctx.stdout.write(`${JSON.stringify(cfg, null, 2)}\n`);
    });

  config
    .command('set')
    .description('set one configuration key (empty VALUE clears it)')
    .argument('<key>', 'configuration key')
    .argument('[value]', 'new value; for secret keys omit it (or give -) and use stdin')
    .addHelpText(
      'after',
      `\nKeys:\n${keys}\n\nSecret keys (${secretKeys}) are never taken as an argument, which ps ` +
        'would show:\nthey are read from the first line of stdin, or from a hidden prompt in a ' +
        `terminal:\n  printf '%s\\n' "$PW" | ${ctx.programName} config set proxy.password\n`,
    )
    .action(async (key: string, value: string | undefined) => {
      const files = agentFiles(ctx.paths());
      const cfg = loadAgentConfig(files.config);
      const given = await valueFor(key, value);
      setConfigValue(cfg, key, given, () => SecretBox.open(files.secretKey));
      saveAgentConfig(files.config, cfg);
      ctx.stdout.write(`${key} updated\n`);
    });

  config
    .command('interactive')
    .description('prompt for token (if not registered), proxy and auto-update settings')
    .action(async () => {
      // Prompts and registration (inquirer, x509) load only for this verb.
      const { runConfigInteractive } = await import('../../config/config-interactive.ts');
      await runConfigInteractive(ctx.paths(), ctx);
    });
}

// The value of `config set KEY [VALUE]`: secrets only from stdin, never from the arguments.
async function valueFor(key: string, value: string | undefined): Promise<string> {
  // An unknown key is reported by setConfigValue, with the list of valid keys.
  if (!SETTABLE_KEYS[key]) return value ?? '';
  if (isSecretKey(key)) {
    if (value !== undefined && value !== '-') {
      throw new UsageError(
        `${key} is a secret and is not taken on the command line (other users see it in ps); ` +
          `give it on stdin instead: printf '%s\\n' "$SECRET" | certagent config set ${key}`,
      );
    }
    const { readSecretValue } = await import('../../config/secret-input.ts');
    return readSecretValue(key);
  }
  if (value === undefined || value === '-') {
    throw new UsageError(`config set ${key} needs a VALUE (an empty string "" clears the key)`);
  }
  return value;
}
