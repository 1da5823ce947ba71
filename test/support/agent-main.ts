import { PassThrough } from 'node:stream';
import { main } from '../../agent/cli/main.ts';

/** `certagent ARGS` run in this process, its output collected: the CLI without a spawn. */
export async function runAgentMain(
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(args, { programName: 'certagent', io: { stdout, stderr } });
  return { code, out, err };
}
