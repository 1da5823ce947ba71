import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { Artifact, BuildContext, Packager } from '../packager.ts';
import { gzipArchiveLayers } from './compressed-layers.ts';
import { imageConfig, type ImageConfig } from './image-config.ts';
import { writeLayerArchive } from './layer-archive.ts';
import { buildRootfs } from './rootfs.ts';

/** Debian's CA bundle, the image's default trust store. */
export const DEBIAN_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** File name of the image archive in dist/. */
export function imageArchiveName(version: string): string {
  return `certagent-${version}-image.tar`;
}

/**
 * The OCI image, built without a container engine: a root filesystem laid out here, one
 * layer added with umoci, the runtime config set with umoci, and the result saved by
 * skopeo as a docker-archive that both `docker load` and `podman load` read, its layer
 * gzip-compressed afterwards (skopeo writes that format uncompressed).
 */
export const ociPackager: Packager = {
  format: 'oci',
  tools: ['umoci', 'skopeo', 'tar', 'ca-certificates'],
  build: buildImage,
};

async function buildImage(ctx: BuildContext): Promise<Artifact[]> {
  const work = path.join(ctx.workDir, 'oci');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const layout = path.join(work, 'layout');
  const image = `${layout}:${ctx.meta.version}`;

  ctx.progress('oci: root filesystem');
  await buildRootfs(path.join(work, 'rootfs'), {
    agent: ctx.executables.linuxAgent,
    caBundle: DEBIAN_CA_BUNDLE,
  });
  await writeLayerArchive(
    path.join(work, 'rootfs'),
    path.join(work, 'layer.tar'),
    ctx.sourceDateEpoch,
  );

  ctx.progress('oci: image layout');
  const config = imageConfig(ctx);
  await execa('umoci', ['init', '--layout', layout]);
  await execa('umoci', ['new', '--image', image]);
  await execa('umoci', [
    'raw',
    'add-layer',
    '--image',
    image,
    ...layerHistory(config),
    path.join(work, 'layer.tar'),
  ]);
  await execa('umoci', ['config', '--image', image, '--no-history', ...configFlags(config)]);
  await execa('umoci', ['gc', '--layout', layout]);

  ctx.progress('oci: docker-archive');
  const out = path.join(ctx.distDir, imageArchiveName(ctx.meta.version));
  fs.rmSync(out, { force: true });
  await saveDockerArchive(work, `oci:${image}`, out, `${ctx.meta.name}:${ctx.meta.version}`);
  ctx.progress('oci: gzip layers');
  await gzipArchiveLayers(out, work, ctx.sourceDateEpoch);
  return [{ path: out, format: 'oci' }];
}

function layerHistory(config: ImageConfig): string[] {
  return [
    `--history.created=${config.created}`,
    '--history.created_by=certagent release build (packaging/oci)',
    '--history.comment=root filesystem: agent, C runtime, CA bundle, users',
  ];
}

/** umoci flags for the image config; every field, so nothing defaults to the build clock. */
export function configFlags(config: ImageConfig): string[] {
  const flags = [
    `--created=${config.created}`,
    '--os=linux',
    '--architecture=amd64',
    `--config.user=${config.user}`,
    `--config.workingdir=${config.workingDir}`,
    ...config.entrypoint.map((e) => `--config.entrypoint=${e}`),
    ...config.cmd.map((c) => `--config.cmd=${c}`),
    ...config.volumes.map((v) => `--config.volume=${v}`),
  ];
  for (const [k, v] of Object.entries(config.env)) flags.push(`--config.env=${k}=${v}`);
  for (const [k, v] of Object.entries(config.labels)) {
    flags.push(`--config.label=${k}=${v}`, `--manifest.annotation=${k}=${v}`);
  }
  return flags;
}

// skopeo reads a signature policy even for local copies; give it one of our own that
// accepts the unsigned layout we just wrote, instead of relying on /etc/containers.
async function saveDockerArchive(work: string, from: string, out: string, tag: string) {
  const policy = path.join(work, 'policy.json');
  fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await execa('skopeo', [
    '--policy',
    policy,
    'copy',
    '--quiet',
    from,
    `docker-archive:${out}:${tag}`,
  ]);
}
