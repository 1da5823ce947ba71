import { execa } from 'execa';
import { IMAGE_LAYOUT } from './image-config.ts';

/**
 * Writes the root filesystem as one uncompressed layer tarball that is the same bytes for
 * the same input: names sorted, every time set to SOURCE_DATE_EPOCH, no atime/ctime
 * headers. Everything belongs to root except the /base volume, which belongs to the agent
 * user so that a fresh named volume is writable by it.
 */
export async function writeLayerArchive(
  rootfs: string,
  out: string,
  sourceDateEpoch: number,
): Promise<void> {
  const common = [
    '--sort=name',
    `--mtime=@${sourceDateEpoch}`,
    '--numeric-owner',
    '--format=pax',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '-C',
    rootfs,
  ];
  const volume = `.${IMAGE_LAYOUT.baseDir}`;

  await execa('tar', [...common, '--owner=0', '--group=0', `--exclude=${volume}`, '-cf', out, '.']);

  const owner = [`--owner=${IMAGE_LAYOUT.uid}`, `--group=${IMAGE_LAYOUT.gid}`];
  await execa('tar', [...common, ...owner, '-rf', out, volume]);
}
