import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { signAuthenticode } from '../authenticode/sign.ts';
import type { Artifact, BuildContext, Packager } from '../packager.ts';
import { lockInstallKey } from './lock-permissions.ts';
import { productCodes } from './product-codes.ts';
import { compileServiceHost, CONFIG_CMD_SOURCE } from './service-host.ts';
import { renderWxs, type MsiPayload } from './wxs.ts';

/** File name of the MSI in dist/, the name the download manifest expects. */
export function msiFileName(version: string): string {
  return `certagent-${version}-x64.msi`;
}

/**
 * The Windows MSI, built by wixl: the Authenticode-signed agent, the service host that runs
 * it as the `certagent` service, and the PROPERTY_* values handed to the agent through the
 * registry. Reproducible: GUIDs derived from version and content, wixl's clock frozen at
 * SOURCE_DATE_EPOCH with faketime, and the signature made with a fixed signing time.
 */
export const msiPackager: Packager = {
  format: 'msi',
  tools: ['wixl', 'msitools', 'osslsigncode', 'faketime', 'gcc-mingw-w64-x86-64-win32'],
  build: buildMsi,
};

async function buildMsi(ctx: BuildContext): Promise<Artifact[]> {
  const work = path.join(ctx.workDir, 'msi');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  requireFile(ctx.executables.windowsAgent, 'the win-x64 agent executable');

  ctx.progress('msi: service host');
  const payload = await preparePayload(ctx, work);

  ctx.progress('msi: wixl');
  const codes = productCodes(ctx.meta.version, contentHash(ctx, payload));
  const wxs = path.join(work, 'certagent.wxs');
  // wixl takes Source paths relative to the directory it runs in, the work dir.
  const relative = Object.fromEntries(
    Object.entries(payload).map(([k, v]) => [k, path.relative(work, v)]),
  ) as unknown as MsiPayload;
  fs.writeFileSync(wxs, renderWxs({ meta: ctx.meta, payload: relative, ...codes }));
  const unsigned = path.join(work, 'certagent-unsigned.msi');
  await runWixl(work, wxs, unsigned, ctx.sourceDateEpoch);
  await lockInstallKey(unsigned, work, frozenClock(ctx.sourceDateEpoch));
  await setPackageCode(unsigned, ctx, codes.packageCode);

  ctx.progress('msi: authenticode');
  const out = path.join(ctx.distDir, msiFileName(ctx.meta.version));
  await signAuthenticode(unsigned, out, signer(ctx), signOptions(ctx));
  return [{ path: out, format: 'msi' }];
}

async function preparePayload(ctx: BuildContext, work: string): Promise<MsiPayload> {
  const host = await compileServiceHost(path.join(work, 'certagent-service-unsigned.exe'));
  const payload: MsiPayload = {
    agentExe: path.join(work, 'certagent.exe'),
    serviceHostExe: path.join(work, 'certagent-service.exe'),
    configCmd: path.join(work, 'certagent-config.cmd'),
    installKind: path.join(work, 'install-kind'),
  };
  fs.writeFileSync(payload.installKind, 'msi\r\n');
  fs.copyFileSync(ctx.executables.windowsAgent, payload.agentExe);
  fs.copyFileSync(CONFIG_CMD_SOURCE, payload.configCmd);
  await signAuthenticode(host, payload.serviceHostExe, signer(ctx), signOptions(ctx));

  // The cabinet records file times: pin them to SOURCE_DATE_EPOCH.
  for (const file of Object.values(payload))
    fs.utimesSync(file, ctx.sourceDateEpoch, ctx.sourceDateEpoch);
  return payload;
}

/** SHA-256 over the version and every packed file: the input of the derived GUIDs. */
function contentHash(ctx: BuildContext, payload: MsiPayload): string {
  const hash = crypto.createHash('sha256').update(ctx.meta.version);
  for (const [name, file] of Object.entries(payload).sort()) {
    hash.update(name).update(fs.readFileSync(file));
  }
  return hash.digest('hex');
}

async function runWixl(
  cwd: string,
  wxs: string,
  out: string,
  sourceDateEpoch: number,
): Promise<void> {
  const res = await execa(
    'faketime',
    ['-f', frozenClock(sourceDateEpoch), 'wixl', '-a', 'x64', '-o', out, wxs],
    {
      cwd,
      env: { TZ: 'UTC' },
      reject: false,
    },
  );
  if (res.exitCode !== 0 || !fs.existsSync(out)) {
    throw new Error(
      `wixl could not build ${out} from ${wxs}: ${(res.stderr || res.stdout).trim()}`,
    );
  }
}

/**
 * wixl ignores <Package Id> and writes a random PackageCode (the summary information's
 * revision number); msibuild rewrites the summary with the derived one, clock frozen again.
 */
async function setPackageCode(msi: string, ctx: BuildContext, packageCode: string) {
  const summary = [ctx.meta.description, ctx.meta.maintainer, 'x64;1033', `{${packageCode}}`];
  const res = await execa(
    'faketime',
    ['-f', frozenClock(ctx.sourceDateEpoch), 'msibuild', msi, '-s', ...summary],
    {
      env: { TZ: 'UTC' },
      reject: false,
    },
  );
  if (res.exitCode !== 0) {
    throw new Error(`msibuild could not set the PackageCode of ${msi}: ${res.stderr.trim()}`);
  }
}

function frozenClock(sourceDateEpoch: number): string {
  return new Date(sourceDateEpoch * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

function signer(ctx: BuildContext) {
  return { chain: ctx.signing.authenticodeCert, key: ctx.signing.authenticodeKey };
}

function signOptions(ctx: BuildContext) {
  return { signingTime: ctx.sourceDateEpoch, description: ctx.meta.name, url: ctx.meta.homepage };
}

function requireFile(file: string, what: string): void {
  if (!fs.existsSync(file)) {
    throw new Error(
      `msi: ${what} ${file} does not exist: build the executables first (npm run release)`,
    );
  }
}
