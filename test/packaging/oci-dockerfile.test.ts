import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageConfig } from '../../packaging/oci/image-config.ts';
import { readProductMetadata } from '../../packaging/metadata.ts';

const DOCKERFILE = path.resolve(import.meta.dirname, '../../Dockerfile');

/** The instructions of the final stage, continuation lines joined. */
function finalStage(text: string): Array<[string, string]> {
  const joined = text.replace(/\\\n/g, ' ');
  const lines = joined.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const froms = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0);
  const lastFrom = froms[froms.length - 1] ?? 0;
  return lines.slice(lastFrom).map((l) => {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(l.trim()) ?? [];
    return [op.toUpperCase(), rest.trim()];
  });
}

function values(stage: Array<[string, string]>, op: string): string[] {
  return stage.filter(([o]) => o === op).map(([, v]) => v);
}

// Both builds must describe one image: a Docker pipeline and `npm run release` ship the same.
describe('Dockerfile agrees with the daemon-less image (packaging/oci)', () => {
  const stage = finalStage(fs.readFileSync(DOCKERFILE, 'utf8'));
  const meta = readProductMetadata();
  const config = imageConfig({ meta, commit: 'c', sourceDateEpoch: 0 });

  it('builds from scratch with the same user, entrypoint, cmd, volume and workdir', () => {
    expect(values(stage, 'FROM')).toEqual(['scratch']);
    expect(values(stage, 'USER')).toEqual([config.user]);
    expect(values(stage, 'ENTRYPOINT').map((v) => JSON.parse(v))).toEqual([config.entrypoint]);
    expect(values(stage, 'CMD').map((v) => JSON.parse(v))).toEqual([config.cmd]);
    expect(values(stage, 'VOLUME')).toEqual(config.volumes);
    expect(values(stage, 'WORKDIR')).toEqual([config.workingDir]);
  });

  it('sets exactly the same environment', () => {
    const env = Object.fromEntries(values(stage, 'ENV').map((v) => v.split(/=(.*)/s).slice(0, 2)));
    expect(env).toEqual(config.env);
  });

  it('carries every OCI label, with the fixed ones equal to package.json', () => {
    const labels = Object.fromEntries(
      [
        ...values(stage, 'LABEL')
          .join(' ')
          .matchAll(/([\w.]+)="([^"]*)"/g),
      ].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(labels).sort()).toEqual(Object.keys(config.labels).sort());
    expect(labels['org.opencontainers.image.description']).toBe(meta.description);
    expect(labels['org.opencontainers.image.licenses']).toBe(meta.license);
    expect(labels['org.opencontainers.image.source']).toBe(meta.homepage);
    expect(labels['org.opencontainers.image.title']).toBe(meta.name);
    expect(labels['org.opencontainers.image.version']).toBe('${VERSION}');
  });
});
