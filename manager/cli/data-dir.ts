import fs from 'node:fs';
import { openDatabase, type Db } from '../store/database.ts';
import { registerBuiltinTaskKinds } from '../tasks/builtin-kinds.ts';
import { OperationalError } from './errors.ts';

/** Opens the data directory's database for a verb, with every task kind registered. */
export function openDataDir(dir: string, create = false): Db {
  if (!create && !fs.existsSync(dir)) {
    throw new OperationalError(
      `data directory ${dir} does not exist; start ` +
        `"certagent-manager serve --data ${dir}" once to create it`,
      'data-dir-missing',
    );
  }
  registerBuiltinTaskKinds();
  try {
    return openDatabase(dir);
  } catch (err) {
    throw new OperationalError(
      `cannot open the database in ${dir}: ${(err as Error).message}`,
      'database',
      {
        cause: err,
      },
    );
  }
}
