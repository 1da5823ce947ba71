import { describe, expect, it } from 'vitest';
import {
  parseNginxListen,
  parseNginxSites,
  splitNginxDump,
} from '../../agent/nodes/nginx-config.ts';

const dump = (files: Record<string, string>) =>
  [
    'nginx: the configuration file /etc/nginx/nginx.conf syntax is ok',
    ...Object.entries(files).map(([f, body]) => `# configuration file ${f}:\n${body}`),
  ].join('\n');

const MAIN = `user www-data;
events { worker_connections 768; }
http {
    include /etc/nginx/mime.types;
    ssl_protocols TLSv1.2 TLSv1.3; # Dropping SSLv3, ref: POODLE
    include /etc/nginx/conf.d/*.conf;
    include /etc/nginx/sites-enabled/*;
}
`;

describe('nginx -T parsing', () => {
  const cases: Array<{ title: string; files: Record<string, string>; expect: object[] }> = [
    {
      title: 'two server blocks in one sites-enabled file, one plain HTTP',
      files: {
        '/etc/nginx/nginx.conf': MAIN,
        '/etc/nginx/mime.types': 'types { text/html html; }',
        '/etc/nginx/sites-enabled/shop': `
server { listen 80; server_name shop.example.com; return 301 https://$host$request_uri; }
server {
  listen 443 ssl http2; listen [::]:443 ssl http2;
  server_name shop.example.com www.shop.example.com;
  ssl_certificate     /etc/ssl/shop/fullchain.pem;
  ssl_certificate_key /etc/ssl/shop/privkey.pem;
  location / { proxy_pass http://127.0.0.1:8080; }
}`,
      },
      expect: [
        {
          id: 'nginx:shop.example.com:443',
          configFile: '/etc/nginx/sites-enabled/shop',
          listen: [
            { address: '*', port: 443 },
            { address: '::', port: 443 },
          ],
          serverNames: ['shop.example.com', 'www.shop.example.com'],
          certPath: '/etc/ssl/shop/fullchain.pem',
          keyPath: '/etc/ssl/shop/privkey.pem',
        },
      ],
    },
    {
      title:
        'certificate inherited from http level, relative paths, quoted values, comments with ' +
        'braces',
      files: {
        '/etc/nginx/nginx.conf': `http {
  ssl_certificate "certs/default chain.pem";   # a { brace } in a comment
  ssl_certificate_key certs/default.key;
  include conf.d/*.conf;
}`,
        '/etc/nginx/conf.d/a.conf':
          `server { listen 10.0.0.5:8443 ssl; server_name ` + `"a.internal"; }`,
        '/etc/nginx/conf.d/b.conf':
          `server { listen 8444 ssl; server_name b.internal; ` +
          `ssl_certificate /srv/b.crt; ssl_certificate_key /srv/b.key; }`,
      },
      expect: [
        {
          configFile: '/etc/nginx/conf.d/a.conf',
          listen: [{ address: '10.0.0.5', port: 8443 }],
          certPath: '/etc/nginx/certs/default chain.pem',
          keyPath: '/etc/nginx/certs/default.key',
        },
        { serverNames: ['b.internal'], certPath: '/srv/b.crt' },
      ],
    },
    {
      title: 'legacy `ssl on;`, stream TLS proxy, and a variable certificate path',
      files: {
        '/etc/nginx/nginx.conf':
          `http { server { listen 443; ssl on; server_name old.example;
  ssl_certificate /e/old.pem; ssl_certificate_key /e/old.key; } }
stream { server { listen 127.0.0.1:6443 ssl; ssl_certificate /e/k8s.pem; ssl_certificate_key ` +
          `/e/k8s.key; proxy_pass backend; } }
http { server { listen 9443 ssl; server_name ~^(?<s>.+)\\.dyn$; ssl_certificate ` +
          `/c/$ssl_server_name.pem; ssl_certificate_key /c/$ssl_server_name.key; } }`,
      },
      expect: [
        { serverNames: ['old.example'], listen: [{ address: '*', port: 443 }] },
        {
          id: 'nginx:_:6443',
          listen: [{ address: '127.0.0.1', port: 6443 }],
          certPath: '/e/k8s.pem',
        },
        { notes: ['certificate path uses a variable: /c/$ssl_server_name.pem'] },
      ],
    },
    {
      title: 'a server with no TLS listen and no certificate is not a site; unix sockets ignored',
      files: {
        '/etc/nginx/nginx.conf':
          `http { server { listen unix:/run/app.sock; listen 80 ` +
          `default_server; server_name _; } }`,
      },
      expect: [],
    },
    {
      title: 'an include loop does not hang the parser',
      files: {
        '/etc/nginx/nginx.conf': 'http { include /etc/nginx/loop.conf; }',
        '/etc/nginx/loop.conf':
          'include /etc/nginx/loop.conf; server { listen 443 ssl; ssl_certificate /x.pem; }',
      },
      expect: [{ certPath: '/x.pem', keyPath: undefined }],
    },
  ];

  it.each(cases)('$title', ({ files, expect: wanted }) => {
    const sites = parseNginxSites(dump(files));
    expect(sites).toHaveLength(wanted.length);
    wanted.forEach((w, i) => expect(sites[i], `site ${i}`).toMatchObject(w));
  });

  it('splits the dump at each configuration file marker', () => {
    const files = splitNginxDump(dump({ '/a.conf': 'x;', '/b.conf': 'y;\nz;' }));
    expect([...files.entries()]).toEqual([
      ['/a.conf', 'x;'],
      ['/b.conf', 'y;\nz;'],
    ]);
  });

  it('reads nothing from output that is not a dump', () => {
    expect(
      parseNginxSites('nginx: [emerg] unknown directive "x" in /etc/nginx/nginx.conf:3'),
    ).toEqual([]);
  });

  it.each([
    [['443', 'ssl'], { address: '*', port: 443, ssl: true }],
    [['[::1]:8443', 'ssl'], { address: '::1', port: 8443, ssl: true }],
    [['*:443', 'ssl', 'default_server'], { address: '*', port: 443, ssl: true }],
    [['example.org:443', 'quic', 'reuseport'], { address: 'example.org', port: 443, ssl: true }],
    [['8080'], { address: '*', port: 8080, ssl: false }],
    [['unix:/run/x.sock', 'ssl'], null],
  ])('listen %j', (args, wanted) => {
    expect(parseNginxListen(args)).toEqual(wanted);
  });
});
