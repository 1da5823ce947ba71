import fs from 'node:fs';
import path from 'node:path';
import type { Artifact, BuildContext, Packager } from '../packager.ts';

/**
 * Publishes the single executables themselves (`--only sea`): the linux one as
 * certagent-<v>-linux-x64, the signed Windows one as certagent-<v>-win-x64.exe and the
 * signed bootstrap downloader as certagent-setup.exe (an unversioned name: it always
 * fetches the newest MSI, and repo-publish serves it under windows/ as is). They are
 * built before any packager runs (scripts/release/executables.ts).
 */
export const seaPackager: Packager = {
  format: 'sea',
  tools: ['osslsigncode'],
  async build(ctx: BuildContext): Promise<Artifact[]> {
    const base = `${ctx.meta.name}-${ctx.meta.version}`;
    const out: Artifact[] = [];
    out.push(copy(ctx.executables.linuxAgent, path.join(ctx.distDir, `${base}-linux-x64`), 0o755));
    if (ctx.executables.windowsAgent) {
      out.push(
        copy(ctx.executables.windowsAgent, path.join(ctx.distDir, `${base}-win-x64.exe`), 0o644),
      );
    }
    const bootstrap = ctx.executables.windowsBootstrap;
    if (bootstrap) {
      out.push(copy(bootstrap, path.join(ctx.distDir, path.basename(bootstrap)), 0o644));
    }
    return out;
  },
};

function copy(from: string, to: string, mode: number): Artifact {
  fs.copyFileSync(from, to);
  fs.chmodSync(to, mode);
  return { path: to, format: 'sea' };
}
