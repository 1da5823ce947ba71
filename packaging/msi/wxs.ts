import type { ProductMetadata } from '../packager.ts';
import { componentGuid, UPGRADE_CODE } from './product-codes.ts';
import {
  AUTOUPDATE_NOT_GIVEN,
  hiddenProperties,
  INSTALL_KEY,
  INSTALL_PROPERTIES,
  ROLLBACK_PROPERTY,
} from './properties.ts';

/** The files the MSI installs under %ProgramFiles%\certagent, as paths on the build machine. */
export interface MsiPayload {
  agentExe: string;
  serviceHostExe: string;
  configCmd: string;
  /** `install-kind` holding "msi": tells the agent's updater how it was installed. */
  installKind: string;
}

export interface WxsInput {
  meta: ProductMetadata;
  productCode: string;
  packageCode: string;
  payload: MsiPayload;
}

export const SERVICE_NAME = 'certagent';

/** Windows Installer versions are three numbers (major < 256, minor < 256, build < 65536). */
export function msiVersion(version: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(version);
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255 || Number(m[3]) > 65535) {
    throw new Error(
      `package.json version ${version} cannot be an MSI ProductVersion (needs ` +
        'MAJOR.MINOR.PATCH with MAJOR and MINOR below 256, PATCH below 65536)',
    );
  }
  return `${m[1]}.${m[2]}.${m[3]}`;
}

export function xmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function component(id: string, body: string): string {
  return `<Component Id="${id}" Guid="${componentGuid(id)}" Win64="yes">${body}</Component>`;
}

function programFiles(p: MsiPayload, meta: ProductMetadata): string {
  const service = [
    `<File Id="ServiceHostExe" Name="certagent-service.exe" ` +
      `Source="${xmlEscape(p.serviceHostExe)}" KeyPath="yes"/>`,
    `<ServiceInstall Id="AgentService" Name="${SERVICE_NAME}" DisplayName="certagent"`,
    ` Description="${xmlEscape(meta.description)}" Type="ownProcess" Start="auto"`,
    ` ErrorControl="normal" Account="LocalSystem"/>`,
    `<ServiceControl Id="AgentService" Name="${SERVICE_NAME}" Start="install" Stop="both"`,
    ` Remove="uninstall" Wait="yes"/>`,
  ].join('');
  return [
    component(
      'AgentExe',
      `<File Id="AgentExe" Name="certagent.exe" Source="${xmlEscape(p.agentExe)}" KeyPath="yes"/>`,
    ),
    component(
      'ConfigCmd',
      `<File Id="ConfigCmd" Name="certagent-config.cmd" Source="${xmlEscape(p.configCmd)}" ` +
        `KeyPath="yes"/>`,
    ),
    component(
      'InstallKind',
      `<File Id="InstallKind" Name="install-kind" Source="${xmlEscape(p.installKind)}" ` +
        `KeyPath="yes"/>`,
    ),
    component('AgentService', service),
    component(
      'ProductKey',
      registryValue('SOFTWARE\\certagent', 'InstallDir', '[INSTALLDIR]', true),
    ),
    // Each property in its own value; the agent deletes them once applied.
    component(
      'InstallProperties',
      INSTALL_PROPERTIES.map((p, i) =>
        registryValue(INSTALL_KEY, p.registryValue, `[${p.property}]`, i === 0),
      ).join(''),
    ),
  ].join('\n');
}

function registryValue(key: string, name: string, value: string, keyPath: boolean): string {
  return (
    `<RegistryValue Root="HKLM" Key="${xmlEscape(key)}" Name="${name}" ` +
    `Value="${xmlEscape(value)}"` +
    ` Type="string"${keyPath ? ' KeyPath="yes"' : ''}/>`
  );
}

function properties(meta: ProductMetadata): string {
  const props: Record<string, string> = {
    PROPERTY_AUTOUPDATE: AUTOUPDATE_NOT_GIVEN,
    MsiHiddenProperties: hiddenProperties(),
    // Never restart the machine by itself; Windows Installer reports 3010 instead.
    REBOOT: 'ReallySuppress',
    ARPNOMODIFY: '1',
    ARPURLINFOABOUT: meta.homepage,
    ARPHELPLINK: meta.homepage,
    ARPCONTACT: meta.maintainer,
    ARPCOMMENTS: meta.description,
  };
  return Object.entries(props)
    .map(([k, v]) => `<Property Id="${k}" Value="${xmlEscape(v)}"/>`)
    .join('\n');
}

/**
 * What <MajorUpgrade> gives (older versions removed, same version not, a newer one refused),
 * except that the updater's rollback may go back: with ROLLBACK_PROPERTY=1 the newer product
 * is removed like an older one and the configuration, outside the MSI, stays.
 * (A downgrade passes the token condition above; this condition refuses it otherwise.)
 */
function upgradeRules(meta: ProductMetadata): string {
  const version = msiVersion(meta.version);
  const newer = 'A newer version of certagent is already installed; uninstall it first to go back.';
  return [
    `<Upgrade Id="${UPGRADE_CODE}">`,
    `<UpgradeVersion Minimum="0.0.0" Maximum="${version}" IncludeMinimum="yes" ` +
      `IncludeMaximum="no" Property="WIX_UPGRADE_DETECTED"/>`,
    `<UpgradeVersion Minimum="${version}" IncludeMinimum="no" Property="WIX_DOWNGRADE_DETECTED"/>`,
    '</Upgrade>',
    `<Condition Message="${xmlEscape(newer)}">NOT WIX_DOWNGRADE_DETECTED OR ` +
      `${ROLLBACK_PROPERTY}="1"</Condition>`,
    // Where <MajorUpgrade> puts it: the old product goes in the same transaction.
    '<InstallExecuteSequence><RemoveExistingProducts ' +
      'After="InstallValidate"/></InstallExecuteSequence>',
  ].join('\n');
}

/** The WiX source of the MSI, every GUID fixed, so wixl has nothing to draw at random. */
export function renderWxs(input: WxsInput): string {
  const { meta } = input;
  const tokenMissing =
    'An installation token is required: run msiexec /i certagent.msi /qn PROPERTY_TOKEN=<token> ' +
    'with the token the management server printed when the agent was added.';
  return `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
<Product Id="${input.productCode}" Name="${xmlEscape(meta.name)}" Language="1033"
 Version="${msiVersion(meta.version)}" Manufacturer="${xmlEscape(meta.maintainer)}" \
UpgradeCode="${UPGRADE_CODE}">
<Package Id="${input.packageCode}" InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
 Description="${xmlEscape(meta.description)}" Comments="${xmlEscape(meta.homepage)}"/>
<Media Id="1" Cabinet="certagent.cab" EmbedCab="yes"/>
${upgradeRules(meta)}
${properties(meta)}
<Condition Message="${xmlEscape(tokenMissing)}">Installed OR PROPERTY_TOKEN OR \
WIX_UPGRADE_DETECTED OR WIX_DOWNGRADE_DETECTED</Condition>
<Directory Id="TARGETDIR" Name="SourceDir">
<Directory Id="ProgramFiles64Folder"><Directory Id="INSTALLDIR" Name="certagent">
${programFiles(input.payload, meta)}
</Directory></Directory>
<Directory Id="CommonAppDataFolder"><Directory Id="DATADIR" Name="certagent">
<Directory Id="CONFDIR" Name="conf">${component('ConfDir', '<CreateFolder/>')}</Directory>
<Directory Id="LOGSDIR" Name="logs">${component('LogsDir', '<CreateFolder/>')}</Directory>
</Directory></Directory>
</Directory>
<Feature Id="Agent" Level="1" Title="certagent">
${[
  'AgentExe',
  'ConfigCmd',
  'InstallKind',
  'AgentService',
  'ProductKey',
  'InstallProperties',
  'ConfDir',
  'LogsDir',
]
  .map((c) => `<ComponentRef Id="${c}"/>`)
  .join('')}
</Feature>
</Product>
</Wix>
`;
}
