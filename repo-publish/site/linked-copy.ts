import fs from 'node:fs';
import path from 'node:path';

/**
 * Places `src` at `dst` as a hard link (generations share their pools, so a publish costs
 * no copy), falling back to a copy across file systems. Published files are never
 * modified in place, which is what makes sharing them safe.
 */
export function placeFile(src: string, dst: string): void {
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.rmSync(dst, { force: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

/** Hard-links every file under `srcDir` into `dstDir`, keeping relative paths. */
export function placeTree(srcDir: string, dstDir: string): void {
  if (!fs.existsSync(srcDir)) return;
  for (const entry of fs.readdirSync(srcDir, { withFileTypes: true })) {
    const from = path.join(srcDir, entry.name);
    const to = path.join(dstDir, entry.name);
    if (entry.isDirectory()) placeTree(from, to);
    else if (entry.isFile()) placeFile(from, to);
  }
}
