import path from 'node:path';
import { UsageError } from '../cli/errors.ts';

/** Where the agent keeps its configuration and logs. */
export interface AgentPaths {
  base: string;
  conf: string;
  logs: string;
}

/**
 * The default base directory per platform (SPEC section 3): `/var/opt/certagent` on
 * Linux, `%PROGRAMDATA%\certagent` on Windows. The image sets CERTAGENT_BASE_DIR=/base.
 */
export function defaultBaseDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32') {
    const programData = env.PROGRAMDATA ?? 'C:\\ProgramData';
    return path.win32.join(programData, 'certagent');
  }
  return '/var/opt/certagent';
}

/** Resolves the paths from `--base-dir`, then CERTAGENT_BASE_DIR, then the default. */
export function resolvePaths(baseDirOption?: string, env = process.env): AgentPaths {
  // path.resolve('') is the current directory: an empty value (an unset shell variable,
  // say) would silently put conf/ wherever the command happens to run.
  if (baseDirOption !== undefined && baseDirOption.trim() === '') {
    throw new UsageError('--base-dir must name a directory, not an empty string');
  }
  if (baseDirOption === undefined && env.CERTAGENT_BASE_DIR?.trim() === '') {
    throw new UsageError('CERTAGENT_BASE_DIR is set but empty; set it to a directory or unset it');
  }
  const base = path.resolve(baseDirOption ?? env.CERTAGENT_BASE_DIR ?? defaultBaseDir(env));
  return { base, conf: path.join(base, 'conf'), logs: path.join(base, 'logs') };
}
