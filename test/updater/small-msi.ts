import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { readProductMetadata } from '../../packaging/metadata.ts';
import { productCodes } from '../../packaging/msi/product-codes.ts';
import { MINGW_GCC } from '../../packaging/msi/service-host.ts';
import { renderWxs, type MsiPayload } from '../../packaging/msi/wxs.ts';
import type { WinePrefix } from '../support/wine.ts';

/**
 * A small MSI of `version` from the product's own WiX source, with the real service host
 * (`hostExe`) and `agentExe` standing in for the 80 MB agent: by default a text file,
 * which the host retries without end, all a test of the MSI tables needs. Built with
 * wixl directly, unsigned, in `<work>/<version>/`.
 */
export async function buildSmallMsi(
  work: string,
  version: string,
  hostExe: string,
  agentExe?: string,
): Promise<string> {
  const dir = path.join(work, version);
  fs.mkdirSync(dir, { recursive: true });
  // wixl takes Source paths relative to the folder it runs in.
  const payload: MsiPayload = {
    agentExe: 'certagent.exe',
    serviceHostExe: 'certagent-service.exe',
    configCmd: 'certagent-config.cmd',
    installKind: 'install-kind',
  };
  if (agentExe) fs.copyFileSync(agentExe, path.join(dir, payload.agentExe));
  else fs.writeFileSync(path.join(dir, payload.agentExe), `stand-in agent ${version}\n`);
  fs.copyFileSync(hostExe, path.join(dir, payload.serviceHostExe));
  fs.writeFileSync(path.join(dir, payload.configCmd), '@echo off\r\n');
  fs.writeFileSync(path.join(dir, payload.installKind), 'msi\r\n');
  const meta = { ...readProductMetadata(), version };
  const wxs = path.join(dir, 'certagent.wxs');
  fs.writeFileSync(wxs, renderWxs({ meta, payload, ...productCodes(version, version) }));
  const msi = path.join(dir, `certagent-${version}-x64.msi`);
  await execa('wixl', ['-a', 'x64', '-o', msi, wxs], { cwd: dir });
  return msi;
}

/**
 * A Windows executable answering `status --json` as an installed agent of `version` would:
 * service running, connected or not. Any other verb (the service host's `run`) exits.
 */
export async function compileStandInAgent(
  out: string,
  version: string,
  connected: boolean,
): Promise<string> {
  const source = `${out}.c`;
  const status = JSON.stringify({
    version,
    service: { running: true, connected, version },
  });
  fs.writeFileSync(
    source,
    `#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "status") == 0 && strcmp(argv[2], "--json") == 0) {
    puts(${JSON.stringify(status)});
    return 0;
  }
  return 0;
}
`,
  );
  await execa(MINGW_GCC, ['-O2', '-s', '-o', out, source]);
  return out;
}

/** Rows of one MSI table as objects keyed by column name (`msiinfo export`). */
export async function msiTable(msi: string, name: string): Promise<Array<Record<string, string>>> {
  const { stdout } = await execa('msiinfo', ['export', msi, name]);
  const [header, , , ...rows] = stdout.split(/\r?\n/);
  const cols = header.split('\t');
  return rows
    .filter(Boolean)
    .map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i], v])));
}
