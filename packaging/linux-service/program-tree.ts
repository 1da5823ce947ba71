import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { SERVICE_FILES } from './scripts.ts';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** How the agent was installed; the updater reads it (only `bin` and `msi` self-update). */
export type InstallKind = 'deb' | 'rpm' | 'bin' | 'msi' | 'image';

export interface ProgramTreeOptions {
  /** The linux-x64 single executable. */
  executable: string;
  installKind: InstallKind;
  /** Directory for the systemd unit: `lib/systemd/system` or `usr/lib/systemd/system`. */
  unitDir: string;
  /** Ship the SysVinit script, used only where systemd does not run. */
  sysvinit: boolean;
  /** Its directory: `etc/init.d` (Debian, the default) or `etc/rc.d/init.d` (RPM systems). */
  initDir?: string;
  sourceDateEpoch: number;
}

/**
 * Lays out the program as the .deb and the .rpm install it, under `root`:
 * /opt/certagent/{certagent, certagent-config -> certagent, install-kind}, /usr/bin links,
 * the systemd unit, the SysVinit script and the man pages.
 */
export function stageProgramTree(root: string, opts: ProgramTreeOptions): void {
  const opt = mkdir(root, 'opt/certagent');
  fs.copyFileSync(opts.executable, path.join(opt, 'certagent'));
  fs.chmodSync(path.join(opt, 'certagent'), 0o755);
  fs.symlinkSync('certagent', path.join(opt, 'certagent-config'));
  fs.writeFileSync(path.join(opt, 'install-kind'), `${opts.installKind}\n`, { mode: 0o644 });

  const bin = mkdir(root, 'usr/bin');
  // Absolute: the links cross top-level directories (Debian policy 10.5).
  fs.symlinkSync('/opt/certagent/certagent', path.join(bin, 'certagent'));
  fs.symlinkSync('/opt/certagent/certagent-config', path.join(bin, 'certagent-config'));

  const unit = path.join(mkdir(root, opts.unitDir), 'certagent.service');
  fs.copyFileSync(SERVICE_FILES.systemdUnit, unit);
  fs.chmodSync(unit, 0o644);
  if (opts.sysvinit) {
    const init = path.join(mkdir(root, opts.initDir ?? 'etc/init.d'), 'certagent');
    fs.copyFileSync(SERVICE_FILES.sysvinitScript, init);
    fs.chmodSync(init, 0o755);
  }

  const man = mkdir(root, 'usr/share/man/man8');
  for (const page of ['certagent.8', 'certagent-config.8']) {
    writeGzip(path.join(man, `${page}.gz`), fs.readFileSync(path.join(HERE, page)));
  }
}

/** gzip -9n equivalent: no name, no timestamp, so the bytes depend on the content only. */
export function writeGzip(file: string, data: Buffer | string): void {
  fs.writeFileSync(file, zlib.gzipSync(data, { level: 9 }), { mode: 0o644 });
}

export function mkdir(root: string, rel: string): string {
  const dir = path.join(root, rel);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

/**
 * Normalises a staged tree for reproducible archives: every mtime (links included) set to
 * SOURCE_DATE_EPOCH, directories 0755, and the umask's effect on files undone.
 */
export function normaliseTree(root: string, epoch: number): void {
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        fs.chmodSync(p, 0o755);
        walk(p);
      }
      fs.lutimesSync(p, epoch, epoch);
    }
  };
  walk(root);
  fs.lutimesSync(root, epoch, epoch);
}
