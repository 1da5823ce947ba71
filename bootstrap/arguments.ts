/**
 * The bootstrap's command line, in msiexec style: `/i` `/x` `/q` `/l FILE` `/source URL`
 * `/?`, and `NAME=VALUE` public properties passed on to the MSI.
 */
export interface BootstrapRequest {
  action: 'install' | 'uninstall' | 'help';
  quiet: boolean;
  logFile?: string;
  source?: string;
  /** Upper-cased property names, in the order given. */
  properties: Map<string, string>;
}

/** Properties that are switches: empty means "no" and must reach the MSI as empty. */
export const SWITCH_PROPERTIES = new Set(['PROPERTY_AUTOUPDATE', 'PROPERTY_USE_PROXY']);

/** Properties whose values are secrets: masked in every log and displayed command line. */
export function isSecretProperty(name: string): boolean {
  return /TOKEN|PASSWORD|SECRET|PASSPHRASE/i.test(name);
}

export const USAGE = `\
Usage: certagent-setup.exe [/i | /x] [/q] [/l FILE] [/source URL] [NAME=VALUE ...]

  /i            install or upgrade (the default)
  /x            uninstall
  /q            silent: no user interface, no reboot (3010 is reported instead)
  /l FILE       write the installer log to FILE (the bootstrap log goes to FILE.bootstrap.log)
  /source URL   distribution host to download the signed MSI from
  /?            show this help

Properties: PROPERTY_TOKEN (required for a silent install), PROPERTY_AUTOUPDATE,
PROPERTY_USE_PROXY, PROPERTY_PROXY_PAC_URL, PROPERTY_PROXY_HOST, PROPERTY_PROXY_PORT,
PROPERTY_PROXY_DOMAIN, PROPERTY_PROXY_USER, PROPERTY_PROXY_PASSWORD.
Quote values with spaces: PROPERTY_PROXY_PASSWORD="two words".
`;

export class BootstrapUsageError extends Error {
  readonly code = 'bootstrap.usage';
}

const PROPERTY = /^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$/s;

/** Parses argv (already split by the Windows runtime) into a request. */
export function parseBootstrapArguments(argv: string[]): BootstrapRequest {
  const request: BootstrapRequest = { action: 'install', quiet: false, properties: new Map() };
  const actions = new Set<'install' | 'uninstall'>();

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const property = PROPERTY.exec(arg);
    if (property) {
      addProperty(request, property[1].toUpperCase(), property[2]);
      continue;
    }
    if (!/^[/-]/.test(arg)) throw new BootstrapUsageError(`unexpected argument "${arg}"`);

    const option = arg.slice(1).toLowerCase();
    const value = takesValue(argv[i + 1]) ? argv[i + 1] : undefined;
    if (option === '?' || option === 'h' || option === 'help') request.action = 'help';
    else if (option === 'i' || option === 'package') actions.add('install');
    else if (option === 'x' || option === 'uninstall') actions.add('uninstall');
    else if (/^q[nb]?$|^quiet$|^passive$/.test(option)) request.quiet = true;
    else if (/^l[*a-z+!]*$/.test(option) || option === 'log') {
      // An option given without a value is ignored (SPEC section 5).
      if (value !== undefined) request.logFile = value;
      if (value !== undefined) i++;
    } else if (option === 'source') {
      if (value !== undefined) request.source = value;
      if (value !== undefined) i++;
    } else {
      throw new BootstrapUsageError(`unknown option "${arg}"`);
    }
  }

  if (actions.size > 1) throw new BootstrapUsageError('give either /i or /x, not both');
  if (request.action !== 'help')
    request.action = actions.has('uninstall') ? 'uninstall' : 'install';
  return request;
}

const KNOWN_OPTION =
  /^[/-](\?|h|help|i|package|x|uninstall|q[nb]?|quiet|passive|l[*a-z+!]*|log|source)$/i;

// The next word is the option's value unless it is another option or a property; a path
// such as /var/log/x.log (or a Windows path) is a value.
function takesValue(next: string | undefined): next is string {
  return next !== undefined && next !== '' && !KNOWN_OPTION.test(next) && !PROPERTY.test(next);
}

function addProperty(request: BootstrapRequest, name: string, value: string): void {
  // Empty means "not given" for value properties; for switches it means "no".
  if (value === '' && !SWITCH_PROPERTIES.has(name)) {
    request.properties.delete(name);
    return;
  }
  request.properties.set(name, value);
}
