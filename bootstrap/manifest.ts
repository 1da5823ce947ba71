import {
  DocumentFields,
  RELATIVE_FILE,
  SHA256_HEX,
  VERSION,
} from '../agent/trust/document-fields.ts';
import { OperationalError } from '../agent/cli/errors.ts';

/** One downloadable file of the Windows download manifest. */
export interface ManifestFile {
  kind: string;
  arch: string;
  file: string;
  size: number;
  sha256: string;
}

/** windows/manifest.json, as published by repo-publish and signed with the release key. */
export interface DownloadManifest {
  sequence: number;
  issued: string;
  expires: string;
  version: string;
  files: ManifestFile[];
}

/** Parses a manifest whose signature was already verified. */
export function parseManifest(text: string, source: string): DownloadManifest {
  const doc = DocumentFields.parse(text, source);
  doc.constant('schema', 1);
  doc.constant('product', 'certagent');
  return {
    sequence: doc.integer('sequence'),
    issued: doc.string('issued'),
    expires: doc.string('expires'),
    version: doc.string('version', VERSION),
    files: doc.array('files').map((f) => ({
      kind: f.string('kind'),
      arch: f.string('arch'),
      file: f.string('file', RELATIVE_FILE),
      size: f.integer('size', 1),
      sha256: f.string('sha256', SHA256_HEX),
    })),
  };
}

/** The MSI for this machine's architecture. */
export function selectMsi(manifest: DownloadManifest, arch: string, source: string): ManifestFile {
  const msi = manifest.files.find((f) => f.kind === 'msi' && f.arch === arch);
  if (msi) return msi;
  const offered = manifest.files.map((f) => `${f.kind}/${f.arch}`).join(', ') || 'nothing';
  throw new OperationalError(
    `${source}: no MSI for architecture ${arch} in release ${manifest.version} (offers ` +
      `${offered}); this machine is not supported by that release`,
    'bootstrap.no-msi-for-arch',
  );
}
