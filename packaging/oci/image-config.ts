import type { BuildContext } from '../packager.ts';

/** Where the agent lives inside the image, and who runs it. */
export const IMAGE_LAYOUT = {
  programDir: '/opt/certagent',
  entrypoint: '/opt/certagent/certagent',
  baseDir: '/base',
  caBundle: '/etc/ssl/certs/ca-certificates.crt',
  uid: 10001,
  gid: 10001,
  user: 'certagent',
} as const;

/** The runtime configuration of the image, as umoci and the Dockerfile both write it. */
export interface ImageConfig {
  user: string;
  entrypoint: string[];
  cmd: string[];
  env: Record<string, string>;
  volumes: string[];
  workingDir: string;
  labels: Record<string, string>;
  created: string;
}

/** RFC 3339 time of SOURCE_DATE_EPOCH, the only clock any image field reads. */
export function createdTime(sourceDateEpoch: number): string {
  return new Date(sourceDateEpoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/**
 * The image's configuration. SSL_CERT_FILE names the image's own CA bundle and
 * `--use-openssl-ca` makes Node read its trust store through OpenSSL, which honours
 * SSL_CERT_FILE: `docker run -e SSL_CERT_FILE=/certs/x.crt` then replaces the bundle.
 */
export function imageConfig(
  ctx: Pick<BuildContext, 'meta' | 'commit' | 'sourceDateEpoch'>,
): ImageConfig {
  const created = createdTime(ctx.sourceDateEpoch);
  return {
    user: `${IMAGE_LAYOUT.uid}:${IMAGE_LAYOUT.gid}`,
    entrypoint: [IMAGE_LAYOUT.entrypoint],
    cmd: ['run'],
    env: {
      PATH: IMAGE_LAYOUT.programDir,
      CERTAGENT_BASE_DIR: IMAGE_LAYOUT.baseDir,
      SSL_CERT_FILE: IMAGE_LAYOUT.caBundle,
      NODE_OPTIONS: '--use-openssl-ca',
    },
    volumes: [IMAGE_LAYOUT.baseDir],
    workingDir: IMAGE_LAYOUT.baseDir,
    labels: {
      'org.opencontainers.image.title': ctx.meta.name,
      'org.opencontainers.image.description': ctx.meta.description,
      'org.opencontainers.image.version': ctx.meta.version,
      'org.opencontainers.image.revision': ctx.commit,
      'org.opencontainers.image.source': ctx.meta.homepage,
      'org.opencontainers.image.url': ctx.meta.homepage,
      'org.opencontainers.image.licenses': ctx.meta.license,
      'org.opencontainers.image.created': created,
    },
    created,
  };
}
