import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PacFile } from '../../agent/proxy/pac-file.ts';
import { PacSandbox } from '../../agent/proxy/pac-sandbox.ts';
import { parsePacAnswer } from '../../agent/proxy/proxy-route.ts';

const sandboxes: PacSandbox[] = [];
afterAll(() => Promise.all(sandboxes.map((s) => s.close())));

async function evaluate(
  source: string,
  url = 'https://a.example.test/x',
  host = 'a.example.test',
  dns = {},
): Promise<string> {
  const sandbox = await PacSandbox.compile(source, 'test.pac', '10.1.2.3');
  sandboxes.push(sandbox);
  return sandbox.evaluate(url, host, dns);
}

describe('PAC sandbox', () => {
  it.each([
    [
      'plain host names',
      'return isPlainHostName(host) ? "DIRECT" : "PROXY p:1";',
      'intranet',
      'DIRECT',
    ],
    [
      'domain match',
      'return dnsDomainIs(host, ".example.test") ? "PROXY p:3128" : "DIRECT";',
      'a.example.test',
      'PROXY p:3128',
    ],
    [
      'shell expressions',
      'return shExpMatch(url, "https://*.example.test/*") ? "PROXY s:1" : "DIRECT";',
      'a.example.test',
      'PROXY s:1',
    ],
    [
      'networks with pre-resolved DNS',
      'return isInNet(host, "10.0.0.0", "255.0.0.0") ? "DIRECT" : "PROXY p:1";',
      'a.example.test',
      'DIRECT',
    ],
    [
      'unresolvable hosts',
      'return isResolvable("nowhere.test") ? "DIRECT" : "PROXY p:2";',
      'a.example.test',
      'PROXY p:2',
    ],
    [
      'myIpAddress',
      'return "PROXY " + myIpAddress() + ":8080";',
      'a.example.test',
      'PROXY 10.1.2.3:8080',
    ],
  ])('supports %s', async (_t, body, host, expected) => {
    const source = `function FindProxyForURL(url, host) { ${body} }`;
    expect(
      await evaluate(source, `https://${host}/x`, host, { 'a.example.test': '10.9.9.9' }),
    ).toBe(expected);
  });

  it.each([
    [
      'a syntax error',
      'function FindProxyForURL(url, host) { return "DIRECT"',
      /PAC file test\.pac failed while loading: SyntaxError/,
    ],
    ['no FindProxyForURL', 'var x = 1;', /defines no FindProxyForURL/],
    [
      'a throwing function',
      'function FindProxyForURL() { throw new Error("boom"); }',
      /failed while evaluating: Error: boom/,
    ],
    [
      'an endless loop',
      'function FindProxyForURL() { for (;;) {} }',
      /ran longer than 1000 ms while evaluating.*endless loop/,
    ],
    [
      'an endless loop at load time',
      'while (true) {} function FindProxyForURL() {}',
      /ran longer than 1000 ms while loading/,
    ],
  ])('rejects %s with a clear error', async (_t, source, message) => {
    await expect(evaluate(source)).rejects.toThrow(message);
  });

  it('stops a PAC file that eats memory, and a later evaluation still works', async () => {
    const hog =
      'function FindProxyForURL() { var a = []; for (;;) a.push(new Array(1e6).fill(7)); }';
    await expect(evaluate(hog)).rejects.toThrow(/used more than 32 MB of memory/);
    expect(await evaluate('function FindProxyForURL() { return "DIRECT"; }')).toBe('DIRECT');
  });

  it.each([
    ['the global constructor', 'return this.constructor.constructor("return process")().pid;'],
    ['eval', 'return eval("1+1");'],
    ['a helper constructor', 'return shExpMatch.constructor("return typeof process")();'],
    [
      'require',
      'return typeof require === "undefined" ? "DIRECT" : ' +
        'require("fs").readFileSync("/etc/passwd");',
    ],
  ])('gives no way out through %s', async (_t, body) => {
    const source = `function FindProxyForURL(url, host) { ${body} }`;
    let result: string | undefined;
    try {
      result = await evaluate(source);
    } catch (err) {
      expect(String(err)).toMatch(/EvalError|Code generation from strings disallowed|not defined/);
      return;
    }
    expect(result).toBe('DIRECT');
  });
});

describe('PAC answers', () => {
  it.each([
    ['PROXY a:3128; DIRECT', [{ kind: 'proxy', host: 'a', port: 3128 }, { kind: 'direct' }]],
    [
      '  proxy 10.0.0.1:8080 ;;SOCKS s:1080; PROXY [::1]:3128',
      [
        { kind: 'proxy', host: '10.0.0.1', port: 8080 },
        { kind: 'proxy', host: '::1', port: 3128 },
      ],
    ],
    ['PROXY bare', [{ kind: 'proxy', host: 'bare', port: 8080 }]],
  ])('parses "%s"', (answer, routes) => {
    expect(parsePacAnswer(answer, 'x.pac')).toEqual(routes);
  });

  it.each(['', 'SOCKS s:1080', 'nonsense', 'PROXY a:99999'])('rejects "%s"', (answer) => {
    expect(() => parsePacAnswer(answer, 'x.pac')).toThrow(/PAC file x\.pac/);
  });
});

describe('PAC file download', () => {
  let server: http.Server;
  let base: string;
  const files: Record<string, string> = {
    '/ok.pac': 'function FindProxyForURL(url, host) { return "PROXY 127.0.0.1:3128; DIRECT"; }',
    '/huge.pac': `// ${'x'.repeat(1024 * 1024 + 10)}`,
  };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const body = files[req.url ?? ''];
      res.writeHead(body === undefined ? 404 : 200, {
        'content-type': 'application/x-ns-proxy-autoconfig',
      });
      res.end(body ?? 'not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('downloads, compiles and answers routes in order', async () => {
    const routes = await new PacFile(`${base}/ok.pac`).routesFor(new URL('https://manager.test/'));
    expect(routes).toEqual([{ kind: 'proxy', host: '127.0.0.1', port: 3128 }, { kind: 'direct' }]);
  });

  it.each([
    ['a missing file', '/missing.pac', /cannot download PAC file .*missing\.pac: HTTP 404/],
    ['an oversized file', '/huge.pac', /larger than 1048576 bytes/],
  ])('reports %s', async (_t, file, message) => {
    await expect(
      new PacFile(`${base}${file}`).routesFor(new URL('https://m.test/')),
    ).rejects.toThrow(message);
  });

  it('reports an unreachable PAC server', async () => {
    await expect(
      new PacFile('http://127.0.0.1:1/x.pac').routesFor(new URL('https://m.test/')),
    ).rejects.toThrow(/cannot download PAC file http:\/\/127\.0\.0\.1:1\/x\.pac/);
  });
});
