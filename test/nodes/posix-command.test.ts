import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../agent/connections/local.ts';
import { quoteWord } from '../../agent/connections/posix-command.ts';

describe('commands and files on a POSIX node', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-posix-'));
  const conn = new LocalConnection();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each([
    ["it's"],
    ['$(touch pwned)'],
    ['`touch pwned`; touch pwned'],
    ['a b\nc'],
    ['--help'],
    [''],
  ])('passes %j through the shell as one word', async (word) => {
    const r = await conn.exec(['printf', '%s', word]);
    expect(r.stdout).toBe(word);
    expect(fs.existsSync('pwned')).toBe(false);
  });

  it(
    'writes a file whose name is hostile without ' + 'running any of it, with the mode asked',
    async () => {
      const file = path.join(dir, "key'; touch $(echo pwned);'.pem");
      await conn.writeFile(file, Buffer.from([0, 1, 2, 255]), { mode: 0o600 });
      expect(fs.readFileSync(file)).toEqual(Buffer.from([0, 1, 2, 255]));
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect((await conn.readFile(file)).equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
      expect(fs.readdirSync(dir)).toEqual([path.basename(file)]);
      expect(fs.existsSync('pwned')).toBe(false);
    },
  );

  it('reports a missing file with its path and leaves no temporary file behind', async () => {
    await expect(conn.readFile(path.join(dir, 'missing.pem'))).rejects.toThrow(
      /cannot read .*missing\.pem on local/,
    );
    await expect(
      conn.writeFile(path.join(dir, 'no-dir', 'x.pem'), 'x', { mode: 0o644 }),
    ).rejects.toThrow(/cannot write .*no-dir\/x\.pem on local/);
    expect(await conn.stat(path.join(dir, 'missing.pem'))).toBeNull();
  });

  it('leaves safe words unquoted and quotes the rest', () => {
    expect(quoteWord('/etc/nginx/nginx.conf')).toBe('/etc/nginx/nginx.conf');
    expect(quoteWord("a'b")).toBe(`'a'\\''b'`);
  });
});
