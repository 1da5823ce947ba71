import crypto from 'node:crypto';
import fs from 'node:fs';

export interface FileDigest {
  size: number;
  md5: string;
  sha1: string;
  sha256: string;
}

// Published files are never modified in place and pools share them by hard link, so one
// digest per inode serves every codename's repository within a publish run.
const byInode = new Map<string, Promise<FileDigest>>();

/** Size and the digests APT, DNF and our manifests quote, from one read of the file. */
export function digestFile(file: string): Promise<FileDigest> {
  const st = fs.statSync(file);
  const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  let digest = byInode.get(key);
  if (!digest) {
    digest = readDigests(file);
    byInode.set(key, digest);
  }
  return digest;
}

async function readDigests(file: string): Promise<FileDigest> {
  const hashes = ['md5', 'sha1', 'sha256'].map((a) => crypto.createHash(a));
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    size += (chunk as Buffer).length;
    for (const h of hashes) h.update(chunk as Buffer);
  }
  const [md5, sha1, sha256] = hashes.map((h) => h.digest('hex')) as [string, string, string];
  return { size, md5, sha1, sha256 };
}

export function sha256Of(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}
