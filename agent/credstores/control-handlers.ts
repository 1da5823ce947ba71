import { OperationalError, UsageError } from '../cli/errors.ts';
import type { SecretFields } from './credential.ts';
import * as ops from './credstore-operations.ts';
import type { StoreDefinition, StoreDeps } from './store.ts';

/** The part of the control server this module needs (agent/control/control-server.ts). */
export interface ControlRegistry {
  handle(method: string, fn: (params: unknown) => unknown): void;
}

/**
 * Registers the `credstore.*` control methods. The service calls this once with its
 * control server; `deps` gives the stores its logger and proxy.
 */
export function attachCredstoreHandlers(registry: ControlRegistry, deps: () => StoreDeps): void {
  const control = {
    handle: (method: string, fn: (p: unknown) => unknown) => registry.handle(method, keepUsage(fn)),
  };
  control.handle('credstore.list', () => ops.listStores(deps(), true));
  control.handle('credstore.add', (p) =>
    ops.addStore(deps(), param<StoreDefinition>(p, 'definition')),
  );
  control.handle('credstore.remove', (p) => ops.removeStore(deps(), param<string>(p, 'name')));
  control.handle('credstore.test', (p) =>
    ops.testStore(deps(), param<string>(p, 'name'), optional<string>(p, 'ref')),
  );
  control.handle('credstore.init-local', () => ops.initLocalStore(deps()));
  control.handle('credstore.secret.list', () => ops.listLocalSecrets(deps()));
  control.handle('credstore.secret.set', (p) =>
    ops.setLocalSecret(deps(), param<string>(p, 'ref'), param<SecretFields>(p, 'fields')),
  );
  control.handle('credstore.secret.get', (p) =>
    ops.getLocalSecret(deps(), param<string>(p, 'ref')),
  );
  control.handle('credstore.secret.delete', (p) =>
    ops.deleteLocalSecret(deps(), param<string>(p, 'ref')),
  );
}

function param<T>(params: unknown, name: string): T {
  const value = (params as Record<string, unknown> | undefined)?.[name];
  if (value === undefined || value === null)
    throw new UsageError(`control request lacks "${name}"`);
  return value as T;
}

function optional<T>(params: unknown, name: string): T | undefined {
  return (params as Record<string, unknown> | undefined)?.[name] as T | undefined;
}

/** Error codes of usage errors travel as `usage:<code>`, so the CLI still exits with 2. */
export const USAGE_CODE_PREFIX = 'usage:';

// The control server forwards OperationalError codes only; a usage error is wrapped in one.
function keepUsage(fn: (params: unknown) => unknown): (params: unknown) => Promise<unknown> {
  return async (params) => {
    try {
      return await fn(params);
    } catch (err) {
      if (err instanceof UsageError) {
        throw new OperationalError(err.message, `${USAGE_CODE_PREFIX}${err.code}`, { cause: err });
      }
      throw err;
    }
  };
}
