import { describe, expect, it } from 'vitest';
import { proxyDispatcherFor } from '../../bootstrap/proxy-dispatcher.ts';
import {
  bypassed,
  parseWinhttp,
  parseWininet,
  systemProxyFor,
  WININET_KEY,
  type SystemProxySources,
} from '../../bootstrap/system-proxy.ts';

/** `reg query` output as reg.exe prints it (CRLF, four-space indents). */
function regOutput(values: Record<string, [string, string]>): string {
  const lines = Object.entries(values).map(([n, [t, d]]) => `    ${n}    ${t}    ${d}`);
  return ['', WININET_KEY, ...lines, ''].join('\r\n');
}

const NETSH_DIRECT = `
Current WinHTTP proxy settings:

    Direct access (no proxy server).
`;

function netsh(server: string, bypass?: string): string {
  return `\r\nCurrent WinHTTP proxy settings:\r\n\r\n    Proxy Server(s) :  ${server}\r\n${
    bypass === undefined ? '' : `    Bypass List     :  ${bypass}\r\n`
  }`;
}

function sources(
  wininet: Record<string, [string, string]> | undefined,
  winhttp = NETSH_DIRECT,
  env: NodeJS.ProcessEnv = {},
): SystemProxySources {
  return {
    wininet: async () => (wininet ? regOutput(wininet) : undefined),
    winhttp: async () => winhttp,
    env,
  };
}

const ENABLED: Record<string, [string, string]> = { ProxyEnable: ['REG_DWORD', '0x1'] };

describe('system proxy for the bootstrap download', () => {
  const cases: Array<{
    title: string;
    url?: string;
    src: SystemProxySources;
    want: object | undefined;
  }> = [
    {
      title: 'WinINET host:port serves every scheme',
      src: sources({ ...ENABLED, ProxyServer: ['REG_SZ', 'proxy.corp:3128'] }),
      want: { host: 'proxy.corp', port: 3128 },
    },
    {
      title: 'WinINET per-scheme list: https= for an https source',
      src: sources({
        ...ENABLED,
        ProxyServer: ['REG_SZ', 'http=web.corp:80;https=secure.corp:8443;ftp=f.corp:21'],
      }),
      want: { host: 'secure.corp', port: 8443 },
    },
    {
      title: 'WinINET per-scheme list: http= for an http source',
      url: 'http://dist.example.test/windows/manifest.json',
      src: sources({ ...ENABLED, ProxyServer: ['REG_SZ', 'http=web.corp:80;https=s.corp:1'] }),
      want: { host: 'web.corp', port: 80 },
    },
    {
      title: 'WinINET per-scheme list without the scheme goes direct',
      src: sources({ ...ENABLED, ProxyServer: ['REG_SZ', 'http=web.corp:80'] }),
      want: undefined,
    },
    {
      title: 'WinINET with a scheme prefix in the value and no port',
      src: sources({ ...ENABLED, ProxyServer: ['REG_SZ', 'https=http://secure.corp'] }),
      want: { host: 'secure.corp', port: 8080 },
    },
    {
      title: 'WinINET proxy switched off (ProxyEnable 0) falls through to WinHTTP',
      src: sources(
        { ProxyEnable: ['REG_DWORD', '0x0'], ProxyServer: ['REG_SZ', 'off.corp:1'] },
        netsh('winhttp.corp:8080'),
      ),
      want: { host: 'winhttp.corp', port: 8080 },
    },
    {
      title: 'WinINET bypass list with a wildcard',
      src: sources({
        ...ENABLED,
        ProxyServer: ['REG_SZ', 'proxy.corp:3128'],
        ProxyOverride: ['REG_SZ', 'intranet;*.example.test;<local>'],
      }),
      want: undefined,
    },
    {
      title: 'WinINET <local> does not bypass a dotted name',
      src: sources({
        ...ENABLED,
        ProxyServer: ['REG_SZ', 'proxy.corp:3128'],
        ProxyOverride: ['REG_SZ', '<local>'],
      }),
      want: { host: 'proxy.corp', port: 3128 },
    },
    {
      title: '<local> bypasses a name without a dot',
      url: 'https://distserver/windows/manifest.json',
      src: sources({
        ...ENABLED,
        ProxyServer: ['REG_SZ', 'proxy.corp:3128'],
        ProxyOverride: ['REG_SZ', '<local>'],
      }),
      want: undefined,
    },
    {
      title: 'AutoConfigURL wins over the manual proxy',
      src: sources({
        ...ENABLED,
        ProxyServer: ['REG_SZ', 'proxy.corp:3128'],
        AutoConfigURL: ['REG_SZ', 'http://wpad.corp/proxy.pac'],
      }),
      want: { pacUrl: 'http://wpad.corp/proxy.pac' },
    },
    {
      title: 'AutoConfigURL applies even with ProxyEnable 0',
      src: sources({
        ProxyEnable: ['REG_DWORD', '0x0'],
        AutoConfigURL: ['REG_SZ', 'http://wpad.corp/proxy.pac'],
      }),
      want: { pacUrl: 'http://wpad.corp/proxy.pac' },
    },
    {
      title: 'WinHTTP per-scheme list and bypass',
      src: sources(undefined, netsh('http=a.corp:1;https=b.corp:2', '*.other.test')),
      want: { host: 'b.corp', port: 2 },
    },
    {
      title: 'WinHTTP bypass list names the host',
      src: sources(undefined, netsh('b.corp:2', '<local>;dist.example.test')),
      want: undefined,
    },
    {
      title: 'HTTPS_PROXY with credentials when Windows has none',
      src: sources(undefined, NETSH_DIRECT, { HTTPS_PROXY: 'http://u%40x:p%3Ass@env.corp:3129' }),
      want: { host: 'env.corp', port: 3129, user: 'u@x', password: 'p:ss' },
    },
    {
      title: 'NO_PROXY suffix bypasses the environment proxy',
      src: sources(undefined, NETSH_DIRECT, {
        HTTPS_PROXY: 'env.corp:3129',
        NO_PROXY: 'localhost,.example.test',
      }),
      want: undefined,
    },
    {
      title: 'HTTP_PROXY is used for https when HTTPS_PROXY is absent',
      src: sources(undefined, undefined, { HTTP_PROXY: 'http://env.corp:3129' }),
      want: { host: 'env.corp', port: 3129 },
    },
    {
      title: 'nothing configured: direct',
      src: sources(undefined, undefined, {}),
      want: undefined,
    },
    {
      title: 'a garbled ProxyServer is not a proxy',
      src: sources({ ...ENABLED, ProxyServer: ['REG_SZ', 'https=::::'] }),
      want: undefined,
    },
  ];

  it.each(cases)('$title', async ({ url, src, want }) => {
    const got = await systemProxyFor(url ?? 'https://dist.example.test/windows/manifest.json', src);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatchObject(want);
  });

  it('reads the WinINET values whatever their case, and only when enabled', () => {
    const out = regOutput({
      proxyenable: ['REG_DWORD', '0x1'],
      PROXYSERVER: ['REG_SZ', 'p:1'],
      ProxyOverride: ['REG_SZ', '<local>'],
    });
    expect(parseWininet(out)).toEqual({ pacUrl: undefined, server: 'p:1', bypass: '<local>' });
    expect(parseWininet(out.replace('0x1', '0x0')).server).toBeUndefined();
    expect(parseWininet('')).toEqual({ pacUrl: undefined, server: undefined, bypass: undefined });
  });

  it('reads netsh output, and direct access as no proxy', () => {
    expect(parseWinhttp(netsh('p:1', '<local>'))).toEqual({ server: 'p:1', bypass: '<local>' });
    expect(parseWinhttp(NETSH_DIRECT)).toEqual({ server: undefined, bypass: undefined });
  });

  it.each([
    ['dist.corp', ['*.corp'], true, true],
    ['dist.corp', ['dist.corp:443'], true, true],
    ['evil-dist.corp', ['dist.corp'], true, false],
    ['dist.corp.evil.test', ['*.corp'], true, false],
    ['dist.corp', ['corp'], false, true],
    ['xcorp', ['corp'], false, false],
    ['10.1.2.3', ['10.*'], true, true],
    ['[::1]', ['::1'], false, true],
  ])('bypass: %s against %j (WinINET %s) is %s', (host, list, wininet, want) => {
    expect(bypassed(host, list, wininet)).toBe(want);
  });

  describe('the route the bootstrap takes', () => {
    const windowsProxy = sources(
      { ...ENABLED, ProxyServer: ['REG_SZ', 'system.corp:3128'] },
      netsh('winhttp.corp:1'),
      { HTTPS_PROXY: 'env.corp:2' },
    );

    async function route(properties: Record<string, string>, src: SystemProxySources) {
      const chosen = await proxyDispatcherFor(
        new Map(Object.entries(properties)),
        'https://dist.example.test',
        {},
        src,
      );
      await chosen.dispatcher.close();
      return chosen.description;
    }

    it('takes the properties over every system setting', async () => {
      const props = {
        PROPERTY_USE_PROXY: '1',
        PROPERTY_PROXY_HOST: 'given.corp',
        PROPERTY_PROXY_PORT: '8080',
        PROPERTY_PROXY_USER: 'u',
        PROPERTY_PROXY_PASSWORD: 'pw-s3cret',
      };
      const text = await route(props, windowsProxy);
      expect(text).toMatch(/^proxy from the properties: given\.corp:8080, basic as u/);
      expect(text).not.toContain('pw-s3cret');
    });

    it('takes the system proxy when the properties give none, or turn it off', async () => {
      expect(await route({}, windowsProxy)).toBe(
        'system proxy: system.corp:3128, no authentication',
      );
      expect(await route({ PROPERTY_USE_PROXY: '' }, windowsProxy)).toMatch(/system\.corp/);
    });

    it('goes direct when nothing is configured', async () => {
      expect(await route({}, sources(undefined, NETSH_DIRECT, {}))).toBe('direct, no proxy');
    });
  });
});
