import { Command, CommanderError } from 'commander';
import { createContext, type CliContext } from './context.ts';
import { exitCodeOf, UsageError } from './errors.ts';
import { explainPermissionError } from '../config/permission-error.ts';
import { addVersionCommand } from './commands/version.ts';
import { addHostKeysCommand } from './commands/host-keys.ts';
import { addDiscoverCommand } from './commands/discover.ts';
import { addRegisterCommand } from './commands/register.ts';
import { addRunCommand } from './commands/run.ts';
import { addStatusCommand } from './commands/status.ts';
import { addConfigCommand } from './commands/config.ts';
import { addCredstoreCommand } from './commands/credstore.ts';

type AddCommand = (program: Command, ctx: CliContext) => void;

/** A command file that loads heavy modules at import time: read only when the line needs it. */
interface DeferredCommand {
  verb: string;
  load: () => Promise<AddCommand>;
}

/**
 * Each command lives in its own file under commands/ and adds itself here. The order is
 * the order `--help` lists them in. Command files register their options statically and
 * import their implementation inside the action, so `certagent version` or a /16 sweep does
 * not carry openpgp, undici and the credential stores in memory.
 */
const COMMANDS: Array<AddCommand | DeferredCommand> = [
  addVersionCommand,
  addDiscoverCommand,
  addRegisterCommand,
  addRunCommand,
  addStatusCommand,
  addConfigCommand,
  // update.ts still imports the updater (openpgp, undici, execa) at the top.
  { verb: 'update', load: async () => (await import('./commands/update.ts')).addUpdateCommand },
  addCredstoreCommand,
  addHostKeysCommand,
];

/** Verbs that `certagent-config X` maps to `certagent config X`. */
const CONFIG_VERBS = new Set(['interactive', 'show', 'set']);

function buildProgram(programName: string, ctx: CliContext, deferred: Map<string, AddCommand>) {
  const program = new Command(programName)
    .description('certagent: TLS certificate discovery and installation agent')
    .option('--base-dir <dir>', 'directory holding conf/ and logs/ (env CERTAGENT_BASE_DIR)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride();
  for (const entry of COMMANDS) {
    const add = typeof entry === 'function' ? entry : deferred.get(entry.verb);
    add?.(program, ctx);
  }
  for (const cmd of program.commands) inheritSettings(cmd, ctx);
  return program;
}

/**
 * Loads the deferred commands the line may need: the one it names, or all of them when it
 * names none of the eager ones (help, no verb, a typo commander should suggest a fix for).
 */
async function loadDeferred(args: string[], eager: Command): Promise<Map<string, AddCommand>> {
  const verb = verbOf(args);
  const known = eager.commands.some((c) => c.name() === verb || c.aliases().includes(verb));
  const loaded = new Map<string, AddCommand>();
  for (const entry of COMMANDS) {
    if (typeof entry === 'function' || (known && entry.verb !== verb)) continue;
    loaded.set(entry.verb, await entry.load());
  }
  return loaded;
}

// The first word after the global options: `--base-dir D` is the only one taking a value.
function verbOf(args: string[]): string {
  let i = 0;
  while (args[i]?.startsWith('-')) i += args[i] === '--base-dir' ? 2 : 1;
  return args[i] ?? '';
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
  if (!options.io) quietOnClosedPipe();
  let program: Command | undefined;
  const ctx = createContext(
    options.programName,
    () => program?.opts<{ baseDir?: string }>().baseDir,
    options.io,
  );

  try {
    const eager = buildProgram(options.programName, ctx, new Map());
    program = buildProgram(options.programName, ctx, await loadDeferred(args, eager));
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err, ctx);
  }
}

/**
 * `certagent --help | head` closes stdout early; the write error that follows is the
 * reader's choice, not a failure worth a stack trace.
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}

function reportError(raw: unknown, ctx: CliContext): number {
  const err = explainPermissionError(raw);
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
