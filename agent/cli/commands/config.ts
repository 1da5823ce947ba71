import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import {
  loadAgentConfig,
  maskedConfig,
  saveAgentConfig,
  setConfigValue,
  SETTABLE_KEYS,
} from '../../config/agent-config.ts';
import { agentFiles } from '../../config/agent-files.ts';
import { SecretBox } from '../../config/secret-box.ts';
import { runConfigInteractive } from '../../config/config-interactive.ts';

export function addConfigCommand(program: Command, ctx: CliContext): void {
  const config = program
    .command('config')
    .description('show and change the agent configuration (conf/agent.json)');
  const keys = Object.entries(SETTABLE_KEYS)
    .map(([k, v]) => `  ${k.padEnd(16)} ${v.describe}`)
    .join('\n');

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
    .argument('<value>', 'new value')
    .addHelpText('after', `\nKeys:\n${keys}\n`)
    .action((key: string, value: string) => {
      const files = agentFiles(ctx.paths());
      const cfg = loadAgentConfig(files.config);
      setConfigValue(cfg, key, value, () => SecretBox.open(files.secretKey));
      saveAgentConfig(files.config, cfg);
      ctx.stdout.write(`${key} updated\n`);
    });

  config
    .command('interactive')
    .description('prompt for token (if not registered), proxy and auto-update settings')
    .action(async () => {
      await runConfigInteractive(ctx.paths(), ctx);
    });
}
