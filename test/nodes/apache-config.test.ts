import { describe, expect, it } from 'vitest';
import {
  apacheSites,
  parseApacheSummary,
  parseApacheVhostBlock,
} from '../../agent/nodes/apache-config.ts';

const SUMMARY =
  `AH00558: apache2: Could not reliably determine the server's fully qualified ` +
  `domain name
VirtualHost configuration:
*:443                  is a NameVirtualHost
         default server shop.example.com (/etc/apache2/sites-enabled/shop-ssl.conf:2)
         port 443 namevhost shop.example.com (/etc/apache2/sites-enabled/shop-ssl.conf:2)
                 alias www.shop.example.com
         port 443 namevhost api.example.com (/etc/apache2/sites-enabled/shop-ssl.conf:12)
*:80                   www.example.com (/etc/apache2/sites-enabled/000-default.conf:1)
[2001:db8::1]:8443     v6.example.com (/etc/apache2/sites-enabled/v6.conf:1)
ServerRoot: "/etc/apache2"
Main DocumentRoot: "/var/www/html"
`;

const FILES = new Map([
  [
    '/etc/apache2/sites-enabled/shop-ssl.conf',
    `# managed by hand
<IfModule mod_ssl.c>
<VirtualHost *:443>
    ServerName https://shop.example.com:443
    ServerAlias www.shop.example.com
    SSLEngine On
    SSLCertificateFile      "/etc/ssl/certs/shop.pem"
    SSLCertificateKeyFile   /etc/ssl/private/shop.key
    # SSLCertificateFile /old/commented.pem
    SSLCertificateChainFile /etc/ssl/certs/chain.pem
</VirtualHost>

<VirtualHost *:443>
    ServerName api.example.com
    SSLEngine on
    SSLCertificateFile \\
        ssl/api.pem
    SSLCertificateKeyFile ssl/api.key
</VirtualHost>
</IfModule>
`.replace(/^# managed by hand\n/, ''),
  ],
  [
    '/etc/apache2/sites-enabled/000-default.conf',
    '<VirtualHost *:80>\n ServerName www.example.com\n</VirtualHost>\n',
  ],
  [
    '/etc/apache2/sites-enabled/v6.conf',
    '<VirtualHost [2001:db8::1]:8443>\nSSLEngine off\nSSLCertificateFile /x.pem\n</VirtualHost>\n',
  ],
]);

describe('apachectl -S parsing', () => {
  it('reads name-based and single vhosts, aliases, IPv6 and the server root', () => {
    const s = parseApacheSummary(SUMMARY);
    expect(s.serverRoot).toBe('/etc/apache2');
    expect(s.vhosts.map((v) => [v.listen, v.serverName, v.line, v.aliases])).toEqual([
      [{ address: '*', port: 443 }, 'shop.example.com', 2, ['www.shop.example.com']],
      [{ address: '*', port: 443 }, 'api.example.com', 12, []],
      [{ address: '*', port: 80 }, 'www.example.com', 1, []],
      [{ address: '2001:db8::1', port: 8443 }, 'v6.example.com', 1, []],
    ]);
  });

  it('keeps only SSL vhosts, resolves relative paths and line continuations', () => {
    const sites = apacheSites(parseApacheSummary(SUMMARY), FILES);
    expect(sites).toEqual([
      expect.objectContaining({
        id: 'apache:shop.example.com:443',
        serverNames: ['shop.example.com', 'www.shop.example.com'],
        certPath: '/etc/ssl/certs/shop.pem',
        keyPath: '/etc/ssl/private/shop.key',
        chainPath: '/etc/ssl/certs/chain.pem',
      }),
      expect.objectContaining({
        serverNames: ['api.example.com'],
        certPath: '/etc/apache2/ssl/api.pem',
        keyPath: '/etc/apache2/ssl/api.key',
        chainPath: undefined,
      }),
    ]);
  });

  it('ignores a vhost whose file could not be read', () => {
    expect(apacheSites(parseApacheSummary(SUMMARY), new Map())).toEqual([]);
  });

  it('stops at the end of the block instead of reading the next vhost', () => {
    const text =
      '<VirtualHost *:443>\nSSLEngine on\n</VirtualHost>\n<VirtualHost ' +
      '*:443>\nSSLCertificateFile /b.pem\n</VirtualHost>';
    expect(parseApacheVhostBlock(text, 1).cert).toBeUndefined();
  });
});

describe('apache vhost block reading', () => {
  it('refuses a line number that does not point at a <VirtualHost> (file edited since)', () => {
    const text = 'SSLEngine on\nSSLCertificateFile /a.pem\n<VirtualHost *:443>\n</VirtualHost>';
    expect(parseApacheVhostBlock(text, 1)).toEqual({ sslEngine: false, aliases: [] });
  });
});
