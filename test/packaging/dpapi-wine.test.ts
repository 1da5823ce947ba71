import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig, revealProxyPassword } from '../../agent/config/agent-config.ts';
import { SecretBox } from '../../agent/config/secret-box.ts';
import { compileServiceHost, MINGW_GCC } from '../../packaging/msi/service-host.ts';
import { releaseWindowsAgent } from '../support/release-artifacts.ts';
import { describeWithTools } from '../support/tools.ts';
import { createWinePrefix, windowsPath, type WinePrefix } from '../support/wine.ts';

// `certagent-service.exe dpapi protect|unprotect` (packaging/windows-service/service-host.c)
// under Wine's crypt32, and the real certagent.exe keeping conf/secret.key in DPAPI form.

const MARK = 'dpapi:v1\n';

let tmp: string;
let prefix: WinePrefix;
let appDir: string;
let hostExe: string;
let counter = 0;

/** Another program's DPAPI blob of the same bytes: machine scope too, but no entropy. */
const OTHER_PROGRAM_C = `#include <windows.h>
#include <wincrypt.h>
int main(void) {
  static BYTE buf[4096];
  DWORD got = 0, n, written;
  while (ReadFile(GetStdHandle(STD_INPUT_HANDLE), buf + got, sizeof(buf) - got, &n, NULL) && n)
    got += n;
  DATA_BLOB in = {got, buf}, out = {0, NULL};
  if (!CryptProtectData(&in, NULL, NULL, NULL, NULL, CRYPTPROTECT_LOCAL_MACHINE, &out)) return 1;
  WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), out.pbData, out.cbData, &written, NULL);
  return 0;
}
`;

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs one command line from a batch file with stdin from `input` and stdout/stderr in files:
 * raw bytes both ways (no pipe between Linux and Wine), and the full Windows exit code.
 */
async function run(commandLine: string, input: Buffer = Buffer.alloc(0)): Promise<Run> {
  const [script, inFile, outFile, errFile, rcFile] = ['cmd', 'in', 'out', 'err', 'rc'].map((ext) =>
    path.join(tmp, `run-${++counter}.${ext}`),
  );
  fs.writeFileSync(inFile, input);
  fs.writeFileSync(
    script,
    `@${commandLine} < ${windowsPath(inFile)} > ${windowsPath(outFile)} ` +
      `2> ${windowsPath(errFile)}\r\n` +
      `@echo %errorlevel% > ${windowsPath(rcFile)}\r\n`,
  );
  await prefix.wine(['cmd', '/c', windowsPath(script)]);
  const code = fs.existsSync(rcFile) ? fs.readFileSync(rcFile, 'utf8').trim() : '';
  if (!/^-?\d+$/.test(code)) throw new Error(`${commandLine} left no exit code in ${rcFile}`);
  return {
    code: Number(code),
    stdout: fs.existsSync(outFile) ? fs.readFileSync(outFile) : Buffer.alloc(0),
    stderr: fs.existsSync(errFile) ? fs.readFileSync(errFile, 'utf8') : '',
  };
}

function dpapi(verb: string, input: Buffer): Promise<Run> {
  return run(`${windowsPath(hostExe)} dpapi ${verb}`, input);
}

/** The blob of a DPAPI key file, opened by the helper: the key certagent uses. */
async function unprotectKeyFile(keyFile: string): Promise<Buffer> {
  const text = fs.readFileSync(keyFile, 'latin1');
  expect(text.startsWith(MARK)).toBe(true);
  const res = await dpapi('unprotect', Buffer.from(text.slice(MARK.length).trim(), 'base64'));
  expect(res.code, res.stderr).toBe(0);
  return res.stdout;
}

/** The proxy password of base/conf/agent.json, opened on Linux with `key` in clear. */
function proxyPasswordWith(base: string, key: Buffer): string | undefined {
  const clearKey = path.join(tmp, `clear-${++counter}.key`);
  fs.writeFileSync(clearKey, key, { mode: 0o600 });
  const config = loadAgentConfig(path.join(base, 'conf', 'agent.json'));
  return revealProxyPassword(config, SecretBox.open(clearKey, null));
}

describeWithTools(
  'DPAPI key protection under Wine',
  ['wine', 'wineserver', 'x86_64-w64-mingw32-gcc'],
  () => {
    beforeAll(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-dpapi-wine-'));
      appDir = path.join(tmp, 'app');
      hostExe = await compileServiceHost(path.join(appDir, 'certagent-service.exe'));
      prefix = await createWinePrefix();
    }, 180_000);

    afterAll(async () => {
      await prefix?.dispose();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    describe('certagent-service.exe dpapi', () => {
      it('protects and unprotects 32 bytes; the blob does not hold them in clear', async () => {
        const key = crypto.randomBytes(32);
        const sealed = await dpapi('protect', key);
        expect(sealed.code, sealed.stderr).toBe(0);
        expect(sealed.stdout.length).toBeGreaterThan(32);
        expect(sealed.stdout.includes(key.subarray(0, 8))).toBe(false);

        const opened = await dpapi('unprotect', sealed.stdout);
        expect(opened.code, opened.stderr).toBe(0);
        expect(opened.stdout.equals(key)).toBe(true);
      });

      it(
        'refuses a blob with one flipped byte: exit ' + '1, one line on stderr, nothing on stdout',
        async () => {
          const sealed = await dpapi('protect', crypto.randomBytes(32));
          const blob = Buffer.from(sealed.stdout);
          blob[blob.length - 20] ^= 0x01;

          const opened = await dpapi('unprotect', blob);
          expect(opened.code).toBe(1);
          expect(opened.stdout.length).toBe(0);
          expect(opened.stderr.trim().split(/\r?\n/)).toHaveLength(1);
          expect(opened.stderr).toContain('CryptUnprotectData failed');
        },
      );

      it(
        'refuses a DPAPI blob of another program ' + '(no certagent entropy) for the same bytes',
        async () => {
          const source = path.join(tmp, 'other-program.c');
          const otherExe = path.join(tmp, 'other-program.exe');
          fs.writeFileSync(source, OTHER_PROGRAM_C);
          await execa(MINGW_GCC, ['-O2', '-s', '-o', otherExe, source, '-lcrypt32']);

          const key = crypto.randomBytes(32);
          const other = await run(windowsPath(otherExe), key);
          expect(other.code, other.stderr).toBe(0);
          const opened = await dpapi('unprotect', other.stdout);
          expect(opened.code).toBe(1);
          expect(opened.stdout.includes(key)).toBe(false);
          expect(opened.stderr).toContain('not a certagent DPAPI blob');
        },
      );

      it('refuses input that is no DPAPI blob, and empty input', async () => {
        const garbage = await dpapi('unprotect', Buffer.from('not a dpapi blob at all'));
        expect(garbage.code).toBe(1);
        expect(garbage.stdout.length).toBe(0);

        const empty = await dpapi('protect', Buffer.alloc(0));
        expect(empty.code).toBe(1);
        expect(empty.stderr).toContain('no input on stdin');
      });

      it.each(['', 'seal', 'protect extra'])(
        'answers `dpapi %s` with usage, exit 2',
        async (verb) => {
          const res = await dpapi(verb, Buffer.from('x'));
          expect(res.code).toBe(2);
          expect(res.stderr).toContain('usage: certagent-service dpapi protect|unprotect');
        },
      );

      it(
        'without arguments is still the service ' + 'host (outside the SCM it says so, exit 1)',
        async () => {
          const res = await run(windowsPath(hostExe));
          expect(res.code).toBe(1);
          expect(res.stderr).toContain('runs only under the Service Control Manager');
        },
      );
    });

    describe('certagent.exe keeps conf/secret.key DPAPI-protected', () => {
      let agentExe: string;

      beforeAll(async () => {
        const exe = await releaseWindowsAgent();
        // Beside the service host, as the MSI installs them: the agent finds it there.
        agentExe = path.join(appDir, 'certagent.exe');
        fs.copyFileSync(exe, agentExe);
      }, 1_500_000);

      function setProxyPassword(base: string, password: string): Promise<Run> {
        const line =
          `${windowsPath(agentExe)} --base-dir ${windowsPath(base)} config set ` + `proxy.password`;
        return run(line, Buffer.from(`${password}\r\n`));
      }

      it(
        'seals a proxy password under a new DPAPI ' + 'key (not 32 clear bytes), then reopens it',
        async () => {
          const base = fs.mkdtempSync(path.join(tmp, 'base-'));
          const res = await setProxyPassword(base, 'pr0xy-under-wine');
          expect(res.code, res.stdout.toString() + res.stderr).toBe(0);

          const keyFile = path.join(base, 'conf', 'secret.key');
          expect(fs.statSync(keyFile).size).not.toBe(32);
          const key = await unprotectKeyFile(keyFile);
          expect(key.length).toBe(32);
          expect(proxyPasswordWith(base, key)).toBe('pr0xy-under-wine');

          // Again: now the agent unprotects the key it wrote, and seals under the same one.
          const again = await setProxyPassword(base, 'second-password');
          expect(again.code, again.stdout.toString() + again.stderr).toBe(0);
          expect((await unprotectKeyFile(keyFile)).equals(key)).toBe(true);
          expect(proxyPasswordWith(base, key)).toBe('second-password');
        },
      );

      it('rewrites a clear key from before in DPAPI form, keeping the same key', async () => {
        const base = fs.mkdtempSync(path.join(tmp, 'base-'));
        const keyFile = path.join(base, 'conf', 'secret.key');
        fs.mkdirSync(path.dirname(keyFile));
        const clear = crypto.randomBytes(32);
        fs.writeFileSync(keyFile, clear);

        const res = await setProxyPassword(base, 'after-upgrade');
        expect(res.code, res.stdout.toString() + res.stderr).toBe(0);
        expect(fs.readFileSync(keyFile).includes(clear)).toBe(false);
        expect((await unprotectKeyFile(keyFile)).equals(clear)).toBe(true);
        expect(proxyPasswordWith(base, clear)).toBe('after-upgrade');
        expect(fs.readdirSync(path.dirname(keyFile)).sort()).toEqual(['agent.json', 'secret.key']);
      });

      it('fails with the key file and the helper named when the helper is missing', async () => {
        const base = fs.mkdtempSync(path.join(tmp, 'base-'));
        const lonely = path.join(tmp, 'lonely', 'certagent.exe');
        fs.mkdirSync(path.dirname(lonely));
        fs.linkSync(agentExe, lonely);

        const line =
          `${windowsPath(lonely)} --base-dir ${windowsPath(base)} config set ` + `proxy.password`;
        const res = await run(line, Buffer.from('pw\r\n'));
        const output = res.stdout.toString() + res.stderr;
        expect(res.code, output).toBe(1);
        expect(output).toContain('certagent-service.exe is missing');
        expect(output).toContain('secret.key');
        expect(fs.existsSync(path.join(base, 'conf', 'secret.key'))).toBe(false);
      });
    });
  },
);
