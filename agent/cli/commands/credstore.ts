import type { Command } from 'commander';
import type { SecretFields } from '../../credstores/credential.ts';
import type * as Ops from '../../credstores/credstore-operations.ts';
import type { StoreDefinition, StoreDeps, StoreType } from '../../credstores/store.ts';
import type { CliContext } from '../context.ts';
import { OperationalError, UsageError } from '../errors.ts';

/**
 * `credstore list | add | remove | test | init-local | secret ...`. Each verb asks the
 * running service first (so `list` shows what the service sees) and falls back to the
 * configuration files when the service is down, saying so. Secrets are read from stdin
 * or a hidden prompt, never from the command line, and never printed.
 */
export function addCredstoreCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('credstore')
    .description('manage credential stores (local-store, Vault, CyberArk, Delinea)');
  const run = runner(ctx);

  cmd
    .command('list')
    .description('list stores: name, type, status')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const stores = (await run('credstore.list', {}, (d, ops) =>
        ops.listStores(d, false),
      )) as Ops.StoreSummary[];
      if (opts.json) return void ctx.stdout.write(`${JSON.stringify(stores, null, 2)}\n`);
      if (stores.length === 0) return void ctx.stdout.write('no credential stores configured\n');
      for (const s of stores)
        ctx.stdout.write(`${s.name.padEnd(20)} ${s.type.padEnd(9)} ${s.status}\n`);
    });

  addAddCommand(cmd, ctx, run);

  cmd
    .command('remove')
    .description('remove a remote store definition')
    .argument('<name>', 'store name')
    .action(async (name: string) => {
      await run('credstore.remove', { name }, (d, ops) => ops.removeStore(d, name));
      ctx.stdout.write(`credential store "${name}" removed\n`);
    });

  cmd
    .command('test')
    .description('check a store is reachable; with --secret, fetch it and show its fields masked')
    .argument('<name>', 'store name')
    .option('--secret <ref>', 'secret reference (path, id, object or Key=Value query)')
    .action(async (name: string, opts: { secret?: string }) => {
      const res = (await run('credstore.test', { name, ref: opts.secret }, (d, ops) =>
        ops.testStore(d, name, opts.secret),
      )) as Awaited<ReturnType<typeof Ops.testStore>>;
      ctx.stdout.write(`credential store "${name}": ${res.status}\n`);
      for (const [field, value] of Object.entries(res.fields ?? {}))
        ctx.stdout.write(`  ${field}: ${value}\n`);
    });

  cmd
    .command('init-local')
    .description('create the encrypted local-store if it does not exist (run by installers)')
    .action(async () => {
      const res = (await run('credstore.init-local', {}, (d, ops) => ops.initLocalStore(d))) as {
        created: boolean;
      };
      ctx.stdout.write(res.created ? 'local-store created\n' : 'local-store already exists\n');
    });

  addSecretCommands(cmd, ctx, run);
}

type Runner = (
  method: string,
  params: object,
  offline: (deps: StoreDeps, ops: typeof Ops) => unknown,
) => Promise<unknown>;

// The stores' clients and the control socket load only when a credstore verb runs.
function runner(ctx: CliContext): Runner {
  return async (method, params, offline) => {
    const paths = ctx.paths();
    const { callControl, ServiceNotRunningError } = await import('../../control/control-client.ts');
    const { USAGE_CODE_PREFIX } = await import('../../credstores/control-handlers.ts');
    try {
      return await callControl(paths, method, params, 60_000);
    } catch (err) {
      if (err instanceof OperationalError && err.code.startsWith(USAGE_CODE_PREFIX)) {
        throw new UsageError(err.message, err.code.slice(USAGE_CODE_PREFIX.length));
      }
      if (!(err instanceof ServiceNotRunningError)) throw err;
      ctx.stderr.write(
        `service not running; working on the configuration in ${paths.conf} directly\n`,
      );
      const { createLogger } = await import('../../logging/logger.ts');
      const { storeDepsFor } = await import('../../credstores/store-deps.ts');
      const logger = createLogger({ name: 'certagent-config', level: 'warn' });
      return offline(
        storeDepsFor(paths.conf, logger),
        await import('../../credstores/credstore-operations.ts'),
      );
    }
  };
}

interface AddOptions {
  type: string;
  address?: string;
  url?: string;
  namespace?: string;
  mount?: string;
  kvVersion?: string;
  roleId?: string;
  appId?: string;
  safe?: string;
  folder?: string;
  clientP12?: string;
  username?: string;
  caFile?: string;
  useProxy?: boolean;
  secretStdin?: boolean;
}

function addAddCommand(cmd: Command, ctx: CliContext, run: Runner): void {
  cmd
    .command('add')
    .description('add or replace a Vault, CyberArk or Delinea store')
    .argument('<name>', 'store name')
    .requiredOption('--type <type>', 'vault, cyberark or delinea')
    .option('--address <url>', 'vault: server address, e.g. https://vault:8200')
    .option('--namespace <ns>', 'vault: namespace (X-Vault-Namespace)')
    .option('--mount <path>', 'vault: KV mount (default secret)')
    .option('--kv-version <n>', 'vault: KV engine version, 1 or 2 (default 2)')
    .option('--role-id <id>', 'vault: AppRole role_id (the secret_id is the store secret)')
    .option('--url <url>', 'cyberark/delinea: base URL of the provider or Secret Server')
    .option('--app-id <id>', 'cyberark: Application ID')
    .option('--safe <safe>', 'cyberark: default safe')
    .option('--folder <folder>', 'cyberark: default folder')
    .option(
      '--client-p12 <file>',
      'cyberark: client certificate (.p12); its password is the store secret',
    )
    .option('--username <user>', 'delinea: user for the OAuth2 password grant')
    .option('--ca-file <file>', 'PEM CA that signed the store server certificate')
    .option('--use-proxy', "reach the store through the agent's proxy")
    .option('--secret-stdin', 'read the store secret (token, secret_id, password) from stdin')
    .addHelpText(
      'after',
      '\nThe store secret (Vault token or AppRole ' +
        'secret_id, Delinea password, .p12 password) is\n' +
        'read from stdin with --secret-stdin, or prompted for; it is never a command argument.\n',
    )
    .action(async (name: string, opts: AddOptions) => {
      const def = await definitionFrom(name, opts, ctx);
      await run('credstore.add', { definition: def }, (d, ops) => ops.addStore(d, def));
      ctx.stdout.write(`credential store "${name}" (${opts.type}) saved\n`);
    });
}

async function definitionFrom(
  name: string,
  o: AddOptions,
  ctx: CliContext,
): Promise<StoreDefinition> {
  const settings: StoreDefinition['settings'] = {};
  const set = (key: string, value: string | boolean | undefined) => {
    if (value !== undefined) settings[key] = value;
  };
  set('address', o.address);
  set('namespace', o.namespace);
  set('mount', o.mount);
  set('kv_version', o.kvVersion);
  set('role_id', o.roleId);
  set('url', o.url);
  set('app_id', o.appId);
  set('safe', o.safe);
  set('folder', o.folder);
  set('client_p12', o.clientP12);
  set('username', o.username);
  set('ca_file', o.caFile);
  set('use_proxy', o.useProxy);

  const field = secretFieldOf(o);
  const secrets: Record<string, string> = {};
  if (field) {
    const value = await readSecret(
      ctx,
      o.secretStdin,
      `${field} for store "${name}"`,
      '--secret-stdin',
    );
    if (value) secrets[field] = value;
  }
  return { name, type: o.type as StoreType, settings, secrets };
}

// Which secret a store type needs; cyberark's is optional (no client certificate).
function secretFieldOf(o: AddOptions): string | undefined {
  if (o.type === 'vault') return o.roleId ? 'secret_id' : 'token';
  if (o.type === 'delinea') return 'password';
  if (o.type === 'cyberark') return o.clientP12 ? 'p12_password' : undefined;
  throw new UsageError(`--type must be vault, cyberark or delinea, not "${o.type}"`);
}

function addSecretCommands(cmd: Command, ctx: CliContext, run: Runner): void {
  const secret = cmd.command('secret').description('secrets of the encrypted local-store');

  secret
    .command('list')
    .description('list secret references (names only)')
    .action(async () => {
      const refs = (await run('credstore.secret.list', {}, (d, ops) =>
        ops.listLocalSecrets(d),
      )) as string[];
      ctx.stdout.write(refs.length ? `${refs.join('\n')}\n` : 'local-store holds no secrets\n');
    });

  secret
    .command('set')
    .description('store a login: user plus password (stdin or prompt) or a private key path')
    .argument('<ref>', 'secret reference')
    .requiredOption('--username <user>', 'login user name')
    .option('--private-key-path <file>', 'private key file instead of a password')
    .option('--password-stdin', 'read the password (or the key pass phrase) from stdin')
    .option('--pass-phrase', 'with --private-key-path: also ask for the key pass phrase')
    .action(
      async (
        ref: string,
        o: {
          username: string;
          privateKeyPath?: string;
          passwordStdin?: boolean;
          passPhrase?: boolean;
        },
      ) => {
        const fields: SecretFields = { username: o.username };
        if (o.privateKeyPath) {
          fields.private_key_path = o.privateKeyPath;
          if (o.passPhrase)
            fields.pass_phrase = await readSecret(
              ctx,
              o.passwordStdin,
              'key pass phrase',
              '--password-stdin',
            );
        } else {
          fields.password = await readSecret(
            ctx,
            o.passwordStdin,
            `password for ${o.username}`,
            '--password-stdin',
          );
        }
        await run('credstore.secret.set', { ref, fields }, (d, ops) =>
          ops.setLocalSecret(d, ref, fields),
        );
        ctx.stdout.write(`secret "${ref}" stored in local-store\n`);
      },
    );

  secret
    .command('get')
    .description('show which fields a secret has (values masked)')
    .argument('<ref>', 'secret reference')
    .action(async (ref: string) => {
      const fields = (await run('credstore.secret.get', { ref }, (d, ops) =>
        ops.getLocalSecret(d, ref),
      )) as Record<string, string>;
      for (const [k, v] of Object.entries(fields)) ctx.stdout.write(`${k}: ${v}\n`);
    });

  secret
    .command('delete')
    .description('delete a secret')
    .argument('<ref>', 'secret reference')
    .action(async (ref: string) => {
      await run('credstore.secret.delete', { ref }, (d, ops) => ops.deleteLocalSecret(d, ref));
      ctx.stdout.write(`secret "${ref}" deleted from local-store\n`);
    });
}

/** One line from stdin, or a hidden prompt on a terminal. */
async function readSecret(
  ctx: CliContext,
  fromStdin: boolean | undefined,
  what: string,
  flag: '--secret-stdin' | '--password-stdin',
): Promise<string> {
  if (fromStdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const value = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
    if (!value) throw new UsageError(`${flag} given but stdin held no ${what}`);
    return value;
  }
  if (!process.stdin.isTTY) {
    throw new UsageError(`no ${what}: pipe it with ${flag}, or run on a terminal`);
  }
  const { password: promptPassword } = await import('@inquirer/prompts');
  return promptPassword(
    { message: `${what[0]!.toUpperCase()}${what.slice(1)}:`, mask: '*' },
    { output: ctx.stderr },
  );
}
