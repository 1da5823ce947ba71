import { describe, expect, it } from 'vitest';
import { tomcatSites } from '../../agent/nodes/tomcat-config.ts';

const FILE = '/opt/tomcat/conf/server.xml';

describe('Tomcat server.xml parsing', () => {
  it.each([
    {
      title: 'SSLHostConfig with PEM files under ${catalina.base}',
      xml:
        `<?xml version="1.0" encoding="UTF-8"?>
<!-- <Connector port="9999" SSLEnabled="true"/> commented out -->
<Server port="8005" shutdown="SHUTDOWN"><Service name="Catalina">
  <Connector port="8080" protocol="HTTP/1.1" redirectPort="8443"/>
  <Connector port="8443" protocol="org.apache.coyote.http11.Http11NioProtocol" ` +
        `SSLEnabled="true" address="10.1.1.1">
    <SSLHostConfig hostName="app.example.com">
      <Certificate certificateFile="\${catalina.base}/conf/app.crt" ` +
        `certificateKeyFile="conf/app.key"
                   certificateChainFile="conf/chain.pem" type="RSA"/>
    </SSLHostConfig>
  </Connector>
</Service></Server>`,
      sites: [
        {
          id: 'tomcat:app.example.com:8443',
          listen: [{ address: '10.1.1.1', port: 8443 }],
          certPath: '/opt/tomcat/conf/app.crt',
          keyPath: '/opt/tomcat/conf/app.key',
          chainPath: '/opt/tomcat/conf/chain.pem',
        },
      ],
    },
    {
      title: 'PKCS12 keystore, two SSLHostConfigs, two services',
      xml:
        `<Server><Service name="A"><Connector port="443" SSLEnabled="true">
  <SSLHostConfig><Certificate certificateKeystoreFile="conf/ks.p12" ` +
        `certificateKeystoreType="PKCS12"/></SSLHostConfig>
  <SSLHostConfig hostName="b.example"><Certificate ` +
        `certificateKeystoreFile="/etc/b.jks"/></SSLHostConfig>
</Connector></Service><Service name="B"><Connector port="8009" ` +
        `protocol="AJP/1.3"/></Service></Server>`,
      sites: [
        {
          id: 'tomcat:_default_:443',
          keystore: { path: '/opt/tomcat/conf/ks.p12', type: 'PKCS12' },
        },
        { serverNames: ['b.example'], keystore: { path: '/etc/b.jks', type: 'JKS' } },
      ],
    },
    {
      title: 'Tomcat 8.5 attributes on the Connector',
      xml:
        `<Server><Service><Connector port="8443" SSLEnabled="true" ` +
        `keystoreFile="\${catalina.home}/.keystore" ` +
        `keystorePass="changeit"/></Service></Server>`,
      sites: [{ keystore: { path: '/opt/tomcat/.keystore', type: 'JKS' } }],
    },
  ])('$title', ({ xml, sites: wanted }) => {
    const sites = tomcatSites(xml, FILE);
    expect(sites).toHaveLength(wanted.length);
    wanted.forEach((w, i) => expect(sites[i]).toMatchObject(w));
    // A keystore password is configuration, not site data: it must not be carried along.
    expect(JSON.stringify(sites)).not.toContain('changeit');
  });

  it('finds nothing in a server.xml without TLS connectors', () => {
    expect(
      tomcatSites('<Server><Service><Connector port="8080"/></Service></Server>', FILE),
    ).toEqual([]);
  });
});
