import { describe, expect, it } from 'vitest';
import { iisSites } from '../../agent/nodes/iis-bindings.ts';

describe('IIS binding list parsing', () => {
  it.each([
    {
      title: 'host header binding on every address',
      json:
        '[{"site":"Default Web ' +
        'Site","bindingInformation":"*:443:shop.example.com","certificateHash":"AB12",' +
        '"certificateStoreName":"My","sha256":"ff00","sslFlags":1}]',
      sites: [
        {
          id: 'iis:shop.example.com:443',
          listen: [{ address: '*', port: 443 }],
          store: { name: 'My', thumbprint: 'AB12' },
          fingerprint: 'ff00',
          binding: { site: 'Default Web Site', information: '*:443:shop.example.com' },
        },
      ],
    },
    {
      title:
        'one object instead of an array (ConvertTo-Json of a single item), address binding, ' +
        'no host header',
      json:
        '{"site":"intranet","bindingInformation":"10.1.2.3:8443:","certificateHash":null,' +
        '"certificateStoreName":null,"sha256":null}\r\n',
      sites: [
        {
          id: 'iis:intranet:8443',
          listen: [{ address: '10.1.2.3', port: 8443 }],
          serverNames: ['intranet'],
          fingerprint: null,
        },
      ],
    },
    { title: 'no HTTPS binding at all', json: '\r\n', sites: [] },
  ])('$title', ({ json, sites }) => {
    const parsed = iisSites(json);
    expect(parsed).toHaveLength(sites.length);
    sites.forEach((s, i) => expect(parsed[i]).toMatchObject(s));
    if (parsed[0] && !('store' in sites[0]!)) expect(parsed[0].store).toBeUndefined();
  });

  it('says what it got when the node printed something else', () => {
    expect(() =>
      iisSites('Import-Module : The specified module WebAdministration was not loaded'),
    ).toThrow(/IIS binding list is not JSON .*Import-Module : The specified module/);
  });
});
