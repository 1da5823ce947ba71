import { execa } from 'execa';
import { UsageError } from '../../agent/cli/errors.ts';

/** The commit and timestamp every artifact of one build derives from. */
export interface SourceIdentity {
  commit: string;
  /** SOURCE_DATE_EPOCH if set, else the last commit's time. */
  sourceDateEpoch: number;
  /** True when the working tree has uncommitted changes (the build is not a release). */
  dirty: boolean;
}

export async function readSourceIdentity(
  repoRoot: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SourceIdentity> {
  const git = (args: string[]) => execa('git', args, { cwd: repoRoot, reject: false });
  // CERTAGENT_BUILD_COMMIT names the commit when building from an exported tree (no .git).
  const head = await git(['rev-parse', 'HEAD']);
  const commit =
    env.CERTAGENT_BUILD_COMMIT || (head.exitCode === 0 ? head.stdout.trim() : 'unknown');
  const status = await git(['status', '--porcelain', '--untracked-files=no']);
  const dirty = status.exitCode !== 0 || status.stdout.trim() !== '';
  return { commit, dirty, sourceDateEpoch: await epoch(env, git) };
}

async function epoch(
  env: NodeJS.ProcessEnv,
  git: (args: string[]) => Promise<{ exitCode?: number; stdout: string }>,
): Promise<number> {
  const given = env.SOURCE_DATE_EPOCH;
  if (given !== undefined && given !== '') {
    if (!/^\d+$/.test(given)) {
      throw new UsageError(
        `SOURCE_DATE_EPOCH='${given}' is not a number of seconds since 1970; unset it or ` +
          'set it to e.g. $(git log -1 --format=%ct).',
      );
    }
    return Number(given);
  }
  const last = await git(['log', '-1', '--format=%ct']);
  return last.exitCode === 0 ? Number(last.stdout.trim()) : 0;
}
