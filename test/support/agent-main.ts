import { PassThrough } from 'node:stream';
import { main } from '../../agent/cli/main.ts';

/**
 * `certagent ARGS` run in this process, its output collected: the CLI without a spawn.
 * `programName` is the name it was called by (`certagent-config` changes the verbs).
 */
export async function runAgentMain(
  args: string[],
  programName = 'certagent',
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(args, { programName, io: { stdout, stderr } });
  return { code, out, err };
}
