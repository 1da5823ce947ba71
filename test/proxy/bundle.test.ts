import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';

// The agent and the bootstrap ship as one bundled file in a Node single executable: the
// proxy module (PAC sandbox, NTLM messages) must bundle with esbuild into one CommonJS
// file that runs with no node_modules beside it.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certagent-proxy-bundle-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('bundles into a single file that evaluates PAC files and builds NTLM messages', async () => {
  const entry = path.join(dir, 'entry.ts');
  const root = path.resolve('agent/proxy');
  fs.writeFileSync(
    entry,
    [
      `import { PacSandbox } from ${JSON.stringify(path.join(root, 'pac-sandbox.ts'))};`,
      `import { ntlmNegotiate } from ${JSON.stringify(path.join(root, 'ntlm-auth.ts'))};`,
      `import { createProxyDispatcher } from ${JSON.stringify(path.join(root, 'dispatcher.ts'))};`,
      'void (async () => {',
      'const pac = await PacSandbox.compile("function FindProxyForURL(u, h) { return ' +
        'dnsDomainIs(h, \\".test\\") ? \\"PROXY p:1\\" : \\"DIRECT\\"; }", "x.pac", ' +
        '"10.0.0.1");',
      'console.log(await pac.evaluate("https://a.test/", "a.test", {}), ' +
        'ntlmNegotiate("CORP").slice(0, 9), typeof ' +
        'createProxyDispatcher({}).dispatch);',
      'await pac.close();',
      '})();',
    ].join('\n'),
  );
  const outfile = path.join(dir, 'bundle.cjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    logLevel: 'silent',
  });

  const res = await execa('node', [outfile], { cwd: dir, env: { NODE_PATH: '' } });
  expect(res.stdout).toBe('PROXY p:1 NTLM TlRM function');
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.wasm'))).toEqual([]);
});
