/**
 * The PROPERTY_* values of a silent install (SPEC section 5) and the registry value each
 * is handed to the agent in, under HKLM\SOFTWARE\certagent\Install. The agent reads them on
 * its first start (agent/platform/windows-install.ts), applies them to its configuration
 * and deletes them; the MSI itself never keeps them in any table.
 */
export interface InstallProperty {
  property: string;
  registryValue: string;
  /** Must not appear in installer logs: listed in MsiHiddenProperties. */
  secret: boolean;
}

export const INSTALL_KEY = 'SOFTWARE\\certagent\\Install';

export const INSTALL_PROPERTIES: InstallProperty[] = [
  { property: 'PROPERTY_TOKEN', registryValue: 'Token', secret: true },
  { property: 'PROPERTY_AUTOUPDATE', registryValue: 'AutoUpdate', secret: false },
  // Not in the vendor's list: the management server URL `certagent register` needs.
  { property: 'PROPERTY_SERVER_URL', registryValue: 'ServerUrl', secret: false },
  // Also ours: a PEM file on the machine with the manager's CA, the `register --ca` of the
  // first start (a manager with a private CA); pinned in conf/server-ca.pem once registered.
  { property: 'PROPERTY_SERVER_CA', registryValue: 'ServerCa', secret: false },
  { property: 'PROPERTY_USE_PROXY', registryValue: 'UseProxy', secret: false },
  { property: 'PROPERTY_PROXY_PAC_URL', registryValue: 'ProxyPacUrl', secret: false },
  { property: 'PROPERTY_PROXY_HOST', registryValue: 'ProxyHost', secret: false },
  { property: 'PROPERTY_PROXY_PORT', registryValue: 'ProxyPort', secret: false },
  { property: 'PROPERTY_PROXY_DOMAIN', registryValue: 'ProxyDomain', secret: false },
  { property: 'PROPERTY_PROXY_USER', registryValue: 'ProxyUser', secret: false },
  { property: 'PROPERTY_PROXY_PASSWORD', registryValue: 'ProxyPassword', secret: true },
];

/**
 * Default of PROPERTY_AUTOUPDATE in the Property table. Windows Installer cannot tell an
 * absent property from one given empty, except against a table default: absent keeps this
 * value, `PROPERTY_AUTOUPDATE=` (empty, meaning off) removes it. It is a marker rather than
 * "1" so that the agent can also tell "not given" from "given 1": on a fresh install the
 * marker means on (the documented default 1), on an upgrade it means keep what was set.
 */
export const AUTOUPDATE_NOT_GIVEN = 'default';

/**
 * Given as 1 by the agent's updater (MSI_ROLLBACK_PROPERTY in agent/updater/msi-upgrade.ts)
 * when it reinstalls the previous version after a failed upgrade: allows that one downgrade.
 */
export const ROLLBACK_PROPERTY = 'CERTAGENT_ROLLBACK';

/** Value of MsiHiddenProperties: the secret properties, kept out of msiexec's log. */
export function hiddenProperties(): string {
  return INSTALL_PROPERTIES.filter((p) => p.secret)
    .map((p) => p.property)
    .join(';');
}
