import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/** A throwaway Wine prefix (Windows 10, 64-bit) under /tmp, for one test file. */
export interface WinePrefix {
  dir: string;
  env: Record<string, string>;
  /** C:\ of the prefix, on the Linux side. */
  driveC: string;
  /** Runs `wine ARGS` in the prefix; output goes to files, never to a pipe Node could crash on. */
  wine(args: string[]): Promise<{ exitCode: number; output: string }>;
  /**
   * `msiexec ARGS` run through cmd.exe, which writes %errorlevel% to a file: the full
   * Windows exit code (1603, 3010), not the 8 bits Linux sees.
   */
  msiexec(args: string[]): Promise<number>;
  /**
   * Runs one command line from a batch file, as an administrator's script would: the line
   * reaches the program exactly as written (wine's own argv would re-quote it), cmd.exe
   * records the full Windows exit code, and output goes to a file (Node under Wine fails on
   * the handles Wine gives a console-less child).
   */
  batch(commandLine: string): Promise<{ code: number; output: string }>;
  /** Values of a registry key as name -> data (`reg query`), or null when the key is absent. */
  regQuery(key: string): Promise<Record<string, string> | null>;
  dispose(): Promise<void>;
}

/** The Windows path (Z:\...) of a Linux path, as Wine maps the root filesystem. */
export function windowsPath(linuxPath: string): string {
  return `Z:${path.resolve(linuxPath).replace(/\//g, '\\')}`;
}

/**
 * Creates the prefix: `wineboot -i`, then Windows 10 (node.exe 22 refuses older). mscoree
 * and mshtml are disabled so Wine never tries to download Mono or Gecko.
 */
export async function createWinePrefix(): Promise<WinePrefix> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-wine-'));
  const env = {
    WINEPREFIX: dir,
    WINEDEBUG: '-all',
    WINEDLLOVERRIDES: 'mscoree,mshtml=',
    HOME: process.env.HOME ?? '/root',
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    DISPLAY: '',
  };
  const scratch = path.join(dir, 'scratch');
  fs.mkdirSync(scratch);
  let counter = 0;

  async function wine(args: string[]) {
    const out = path.join(scratch, `out-${++counter}.txt`);
    const r = await execa('wine', args, {
      env,
      extendEnv: false,
      stdin: 'ignore' as const,
      stdout: { file: out },
      stderr: { file: `${out}.err` },
      reject: false,
    });
    const err = fs.readFileSync(`${out}.err`, 'utf8');
    return { exitCode: r.exitCode ?? -1, output: fs.readFileSync(out, 'utf8') + err };
  }

  await wine(['wineboot', '-i']);
  await wine(['winecfg', '/v', 'win10']);
  // Let the first boot settle: an msiexec started while it still runs can fail with 1627.
  await execa('wineserver', ['-w'], { env, extendEnv: false, reject: false, timeout: 60_000 });

  return {
    dir,
    env,
    driveC: path.join(dir, 'drive_c'),
    wine,
    async msiexec(args) {
      const rcFile = path.join(scratch, `msiexec-${++counter}.rc`);
      const line = `msiexec ${args.join(' ')} & echo %errorlevel% > ${windowsPath(rcFile)}`;
      await wine(['cmd', '/c', line]);
      const rc = fs.existsSync(rcFile) ? fs.readFileSync(rcFile, 'utf8').trim() : '';
      if (!/^\d+$/.test(rc)) throw new Error(`msiexec ${args[0]} left no exit code in ${rcFile}`);
      return Number(rc);
    },
    async batch(commandLine) {
      const [rc, out, script] = ['rc', 'out', 'cmd'].map((ext) =>
        path.join(scratch, `batch-${++counter}.${ext}`),
      );
      fs.writeFileSync(
        script,
        `@${commandLine} > ${windowsPath(out)} 2>&1\r\n@echo %errorlevel% > ${windowsPath(rc)}\r\n`,
      );
      await wine(['cmd', '/c', windowsPath(script)]);
      const code = fs.existsSync(rc) ? fs.readFileSync(rc, 'utf8').trim() : '';
      if (!/^-?\d+$/.test(code)) throw new Error(`${commandLine} left no exit code in ${rc}`);
      return { code: Number(code), output: fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '' };
    },
    async regQuery(key) {
      const r = await wine(['reg', 'query', key]);
      if (r.exitCode !== 0) return null;
      return parseRegQuery(r.output);
    },
    async dispose() {
      await execa('wineserver', ['-k'], { env, extendEnv: false, reject: false });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Parses `reg query` output lines `    Name    REG_SZ    Data` into name -> data. */
export function parseRegQuery(output: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s{2,}(.*?)\s+(REG_[A-Z_]+)\s*(.*)$/.exec(line);
    if (m) values[m[1] === '(Default)' ? '' : m[1]] = m[3].trim();
  }
  return values;
}

/**
 * Keeps the prefix up for the rest of the file: one persistent wineserver and a booted
 * prefix. Without it Wine shuts the prefix down (services included) once no other Wine
 * process is left, so a service could not stay running while a test polls from Linux, and
 * the next `wine` command would boot it again and restart auto-start services. No pipes of
 * ours: the server and the services wineboot starts outlive the command.
 */
export async function keepWineUp(prefix: WinePrefix): Promise<void> {
  const quiet = { env: prefix.env, extendEnv: false, stdio: 'ignore' } as const;
  await execa('wineserver', ['-p'], quiet);
  await execa('wine', ['wineboot'], quiet);
}

/** A service's state as `sc query` names it (RUNNING, STOPPED ...), or its whole answer. */
export async function serviceState(prefix: WinePrefix, name: string): Promise<string> {
  const { output } = await prefix.wine(['sc', 'query', name]);
  return /STATE\s*:\s*\d+\s+(\w+)/.exec(output)?.[1] ?? output;
}

/**
 * Linux pids of the prefix's live processes whose command line matches `image`, seen from
 * Linux (Wine's tasklist lists nothing): every Wine process carries WINEPREFIX.
 */
export function wineProcesses(prefix: WinePrefix, image: RegExp): number[] {
  const pids: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (image.test(cmdline) && environ.includes(`WINEPREFIX=${prefix.dir}`)) {
        pids.push(Number(pid));
      }
    } catch {
      // The process ended while being read.
    }
  }
  return pids;
}
