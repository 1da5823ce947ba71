import { Command, CommanderError } from 'commander';
import { createContext, type CliContext } from './context.ts';
import { exitCodeOf, UsageError } from './errors.ts';
import { addVersionCommand } from './commands/version.ts';
import { addHostKeysCommand } from './commands/host-keys.ts';
import { addDiscoverCommand } from './commands/discover.ts';
import { addRegisterCommand } from './commands/register.ts';
import { addRunCommand } from './commands/run.ts';
import { addStatusCommand } from './commands/status.ts';
import { addConfigCommand } from './commands/config.ts';
import { addUpdateCommand } from './commands/update.ts';
import { addCredstoreCommand } from './commands/credstore.ts';

/**
 * Each command lives in its own file under commands/ and adds itself here. The order is
 * the order `--help` lists them in.
 */
const COMMANDS: Array<(program: Command, ctx: CliContext) => void> = [
  addVersionCommand,
  addDiscoverCommand,
  addRegisterCommand,
  addRunCommand,
  addStatusCommand,
  addConfigCommand,
  addUpdateCommand,
  addCredstoreCommand,
  addHostKeysCommand,
];

/** Verbs that `certagent-config X` maps to `certagent config X`. */
const CONFIG_VERBS = new Set(['interactive', 'show', 'set']);

function buildProgram(programName: string, ctx: CliContext): Command {
  const program = new Command(programName)
    .description('certagent: TLS certificate discovery and installation agent')
    .option('--base-dir <dir>', 'directory holding conf/ and logs/ (env CERTAGENT_BASE_DIR)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride();
  for (const add of COMMANDS) add(program, ctx);
  for (const cmd of program.commands) inheritSettings(cmd, ctx);
  return program;
}

// Subcommands must also throw instead of exiting, so main() owns every exit code.
function inheritSettings(cmd: Command, ctx: CliContext): void {
  cmd.exitOverride().configureOutput({
    writeOut: (s) => ctx.stdout.write(s),
    writeErr: (s) => ctx.stderr.write(s),
  });
  for (const sub of cmd.commands) inheritSettings(sub, ctx);
}

// `certagent-config [--base-dir D] show` is `certagent [--base-dir D] config show`.
function asConfigVerb(argv: string[]): string[] {
  const skip = argv[0] === '--base-dir' ? 2 : argv[0]?.startsWith('--base-dir=') ? 1 : 0;
  if (!CONFIG_VERBS.has(argv[skip] ?? '')) return argv;
  return [...argv.slice(0, skip), 'config', ...argv.slice(skip)];
}

/** Runs one command line; resolves to the process exit code (0, 1 or 2). */
export async function main(
  argv: string[],
  options: { programName: string; io?: Pick<CliContext, 'stdout' | 'stderr'> },
): Promise<number> {
  const args = options.programName === 'certagent-config' ? asConfigVerb(argv) : argv;
  let program: Command | undefined;
  const ctx = createContext(
    options.programName,
    () => program?.opts<{ baseDir?: string }>().baseDir,
    options.io,
  );
  program = buildProgram(options.programName, ctx);

  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err, ctx);
  }
}

function reportError(err: unknown, ctx: CliContext): number {
  if (err instanceof CommanderError) {
    // commander already printed its message; help and version requests are not failures.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    if (err.code === 'commander.help') return 0;
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  ctx.stderr.write(`${ctx.programName}: ${message}\n`);
  if (process.env.CERTAGENT_DEBUG && err instanceof Error) ctx.stderr.write(`${err.stack}\n`);
  return err instanceof UsageError ? 2 : exitCodeOf(err);
}
