import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { runConfigInteractive } from '../../agent/config/config-interactive.ts';
import { resolvePaths } from '../../agent/config/paths.ts';
import { AGENT_BIN, tempDir } from '../support/manager.ts';
import { describeWithTools } from '../support/tools.ts';

// `certagent config interactive` and the hidden prompt of `config set proxy.password`, driven
// through a real pseudo-terminal: a tmux session of its own (own server socket, -S) runs the
// agent, send-keys types the answers and capture-pane reads the prompts back.

const dirs: string[] = [];
const sessions: Tmux[] = [];
afterAll(async () => {
  for (const s of sessions) await s.kill();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A base dir that counts as registered (identity files present), so no token is asked. */
function registeredBase(config?: object): string {
  const base = tempDir('cfg-tty');
  dirs.push(base);
  fs.mkdirSync(path.join(base, 'conf'), { recursive: true });
  fs.writeFileSync(path.join(base, 'conf', 'agent.key'), 'placeholder');
  fs.writeFileSync(path.join(base, 'conf', 'agent.pem'), 'placeholder');
  if (config) fs.writeFileSync(path.join(base, 'conf', 'agent.json'), JSON.stringify(config));
  return base;
}

class Tmux {
  private constructor(private readonly socket: string) {}

  /** Starts `certagent --base-dir BASE ARGS` in a detached 120x40 terminal. */
  static async start(base: string, args: string[]): Promise<Tmux> {
    // A server socket of its own (-S) in a temp dir removed with the others afterwards.
    const socketDir = tempDir('tmux');
    dirs.push(socketDir);
    const tmux = new Tmux(path.join(socketDir, 'tmux.sock'));
    sessions.push(tmux);
    // The pane stays after the command ends so that its last screen and exit code can be read.
    const command =
      `node ${AGENT_BIN} --base-dir ${base} ${args.join(' ')}; echo "EXIT=$?"; ` + `sleep 600`;
    // -f /dev/null: no user tmux.conf may change keys or the screen.
    await execa('tmux', [
      '-S',
      tmux.socket,
      '-f',
      '/dev/null',
      'new-session',
      '-d',
      '-x',
      '120',
      '-y',
      '40',
      command,
    ]);
    return tmux;
  }

  async screen(): Promise<string> {
    return (await execa('tmux', ['-S', this.socket, 'capture-pane', '-p'])).stdout;
  }

  /** Waits until the screen matches (at most 20 s, then fails showing the screen). */
  async waitFor(pattern: RegExp): Promise<string> {
    let screen = '';
    for (let i = 0; i < 200; i++) {
      screen = await this.screen();
      if (pattern.test(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`terminal never showed ${pattern}; it shows:\n${screen}`);
  }

  /** Types literal text, then presses Enter. */
  async answer(text: string): Promise<void> {
    if (text) await execa('tmux', ['-S', this.socket, 'send-keys', '-l', text]);
    await execa('tmux', ['-S', this.socket, 'send-keys', 'Enter']);
  }

  async keys(...keys: string[]): Promise<void> {
    await execa('tmux', ['-S', this.socket, 'send-keys', ...keys]);
  }

  async kill(): Promise<void> {
    await execa('tmux', ['-S', this.socket, 'kill-server'], { reject: false });
  }
}

const readConfig = (base: string) =>
  JSON.parse(fs.readFileSync(path.join(base, 'conf', 'agent.json'), 'utf8'));

describeWithTools('config interactive in a terminal', ['tmux'], () => {
  it('saves the proxy and auto-update answers, asking again after a rejected port', async () => {
    // auto-update starts on, so answering "no" is a change the file must show.
    const base = registeredBase({ autoUpdate: true, proxy: {} });
    const term = await Tmux.start(base, ['config', 'interactive']);

    await term.waitFor(/\? Use a proxy for outbound connections\?/);
    await term.answer('y');
    await term.waitFor(/\? PAC URL/);
    await term.answer('');
    await term.waitFor(/\? Proxy host/);
    await term.answer('127.0.0.1');
    await term.waitFor(/\? Proxy port:/);
    await term.answer('99999');
    await term.waitFor(/between 1 and 65535, not "99999"/);
    // Still on the port prompt: clear the rejected answer and give a valid one.
    expect(await term.screen()).toMatch(/\? Proxy port: 99999/);
    await term.keys('BSpace', 'BSpace', 'BSpace', 'BSpace', 'BSpace');
    await term.answer('3128');
    await term.waitFor(/\? NTLM domain/);
    await term.answer('CORP');
    await term.waitFor(/\? Proxy user/);
    await term.answer('alice');
    await term.waitFor(/\? Proxy password/);
    await term.answer('tty-S3cret-pw');
    await term.waitFor(/\? Enable automatic updates\? \(Y\/n\)/);
    await term.answer('n');
    const screen = await term.waitFor(/EXIT=\d+/);

    expect(screen).toMatch(/EXIT=0/);
    expect(screen).toMatch(/configuration saved to/);
    expect(screen).toMatch(/✔ Proxy port: 3128/);
    expect(screen).not.toContain('tty-S3cret-pw');
    const config = readConfig(base);
    expect(config).toMatchObject({
      autoUpdate: false,
      proxy: { host: '127.0.0.1', port: 3128, domain: 'CORP', user: 'alice' },
    });
    expect(config.proxy.password).toMatch(/^sealed:v1:/);
    const show = await execa('node', [AGENT_BIN, '--base-dir', base, 'config', 'show']);
    expect(JSON.parse(show.stdout).proxy.password).toBe('********');
    expect(fs.readFileSync(path.join(base, 'conf', 'agent.json'), 'utf8')).not.toContain(
      'tty-S3cret-pw',
    );
  });

  it('clears the proxy when the answer is no, keeping nothing of the old one', async () => {
    const base = registeredBase({ autoUpdate: false, proxy: { host: 'old.test', port: 8080 } });
    const term = await Tmux.start(base, ['config', 'interactive']);
    await term.waitFor(/\? Use a proxy for outbound connections\? \(Y\/n\)/);
    await term.answer('n');
    await term.waitFor(/\? Enable automatic updates\?/);
    await term.answer('');
    expect(await term.waitFor(/EXIT=\d+/)).toMatch(/EXIT=0/);
    expect(readConfig(base)).toMatchObject({ autoUpdate: false, proxy: {} });
    expect(readConfig(base).proxy.host).toBeUndefined();
  });

  it('asks for a secret of config set with a hidden prompt', async () => {
    const base = registeredBase();
    const term = await Tmux.start(base, ['config', 'set', 'proxy.password']);
    await term.waitFor(/\? proxy\.password:/);
    await term.answer('hidden-S3cret');
    const screen = await term.waitFor(/EXIT=\d+/);
    expect(screen).toMatch(/EXIT=0/);
    expect(screen).not.toContain('hidden-S3cret');
    expect(readConfig(base).proxy.password).toMatch(/^sealed:v1:/);
  });
});

/**
 * Answers prompts written to a stream: each answer is typed once its prompt text appears.
 * A pattern that never appears fails the run after 15 s with what was shown.
 */
function scriptedTerminal(script: Array<[RegExp, string]>) {
  const input = new PassThrough();
  const output = new PassThrough();
  let seen = '';
  let step = 0;
  output.on('data', (d: Buffer) => {
    seen += d.toString();
    // Answer on the next tick: the prompt listens for keys once its first render is out.
    while (step < script.length && script[step]![0].test(seen)) {
      const answer = script[step++]![1];
      seen = '';
      setImmediate(() => input.write(answer));
    }
  });
  let stuck: NodeJS.Timeout | undefined;
  // A prompt that never shows fails the test instead of hanging it.
  const timedOut = new Promise<never>((_resolve, reject) => {
    stuck = setTimeout(() => reject(new Error(`stuck at step ${step}, screen: ${seen}`)), 15_000);
  });
  return { io: { input, output }, timedOut, done: () => clearTimeout(stuck), steps: () => step };
}

describe('config interactive on plain streams', () => {
  it(
    'runs every prompt (the output stream ' + 'survives each prompt) and re-asks a bad port',
    async () => {
      const base = registeredBase({ autoUpdate: true, proxy: {} });
      const BACKSPACE = '\x7f';
      const term = scriptedTerminal([
        [/Use a proxy/, 'y\r'],
        [/PAC URL/, '\r'],
        [/Proxy host/, 'proxy.test\r'],
        [/Proxy port/, '0\r'],
        [/between 1 and 65535, not "0"/, `${BACKSPACE}8080\r`],
        [/NTLM domain/, '\r'],
        [/Proxy user/, 'bob\r'],
        [/Proxy password/, 'stream-S3cret\r'],
        [/automatic updates/, 'n\r'],
      ]);
      const out = new PassThrough();
      let printed = '';
      out.on('data', (d: Buffer) => (printed += d.toString()));
      try {
        await Promise.race([
          runConfigInteractive(resolvePaths(base), { stdout: out }, term.io),
          term.timedOut,
        ]);
      } finally {
        term.done();
      }
      expect(term.steps()).toBe(9);
      expect(printed).toMatch(/configuration saved to/);
      const config = readConfig(base);
      expect(config).toMatchObject({
        autoUpdate: false,
        proxy: { host: 'proxy.test', port: 8080, user: 'bob' },
      });
      expect(config.proxy.password).toMatch(/^sealed:v1:/);
      expect(JSON.stringify(config)).not.toContain('stream-S3cret');
    },
  );
});
