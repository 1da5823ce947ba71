import type { Writable } from 'node:stream';
import { resolvePaths, type AgentPaths } from '../config/paths.ts';

/** What every command gets: where to print, and where the agent's files are. */
export interface CliContext {
  programName: string;
  stdout: Writable;
  stderr: Writable;
  /** Resolved lazily so that `--base-dir` given anywhere on the line is honoured. */
  paths(): AgentPaths;
}

export function createContext(
  programName: string,
  baseDir: () => string | undefined,
  io: { stdout: Writable; stderr: Writable } = process,
): CliContext {
  return {
    programName,
    stdout: io.stdout,
    stderr: io.stderr,
    paths: () => resolvePaths(baseDir()),
  };
}
