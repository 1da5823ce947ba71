import { password } from '@inquirer/prompts';
import { UsageError } from '../cli/errors.ts';

/**
 * Reads a secret for `config set KEY` without it ever being a process argument: a hidden
 * prompt when stdin is a terminal, else the first line of stdin (a script's pipe or file).
 */
export async function readSecretValue(
  key: string,
  stdin: NodeJS.ReadStream = process.stdin,
): Promise<string> {
  if (stdin.isTTY) return password({ message: `${key}:`, mask: '*' });

  const line = await readFirstLine(stdin);
  if (line === undefined) {
    throw new UsageError(
      `no value for ${key} on stdin; pipe it in, e.g. printf '%s\\n' "$SECRET" | ` +
        `certagent config set ${key} (an empty line clears it)`,
    );
  }
  return line;
}

// The first line without its end of line; undefined when stdin ends before any byte.
async function readFirstLine(stdin: NodeJS.ReadableStream): Promise<string | undefined> {
  let text = '';
  let sawData = false;
  for await (const chunk of stdin) {
    sawData = true;
    text += chunk.toString();
    // Stop at the first newline: anything after it is not part of the value.
    if (text.includes('\n')) break;
  }
  if (!sawData) return undefined;
  return text.split('\n')[0]!.replace(/\r$/, '');
}
