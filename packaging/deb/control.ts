import type { ProductMetadata } from '../packager.ts';
import { PACKAGE_SUMMARY, packageDescription } from '../linux-service/description.ts';

/**
 * The package version. The packaging lives in the upstream tree and is released with it,
 * so this is a native package: the upstream version with no Debian revision, and its
 * changelog is changelog.gz (a `-1` revision would claim a separate Debian packaging).
 */
export function debianVersion(meta: ProductMetadata): string {
  return meta.version;
}

/**
 * DEBIAN/control. The Depends are the shared libraries the official Node binary links
 * (`ldd`: libc, libstdc++, libgcc_s) plus passwd for useradd in postinst (setpriv comes
 * from util-linux, which is essential).
 */
export function controlFile(meta: ProductMetadata, installedSizeKiB: number): string {
  const rest = packageDescription(meta);
  return [
    `Package: ${meta.name}`,
    `Version: ${debianVersion(meta)}`,
    'Architecture: amd64',
    `Maintainer: ${meta.maintainer}`,
    `Installed-Size: ${installedSizeKiB}`,
    'Depends: libc6 (>= 2.28), libgcc-s1 (>= 3.4), libstdc++6 (>= 9), passwd',
    'Section: admin',
    'Priority: optional',
    `Homepage: ${meta.homepage}`,
    `Description: ${PACKAGE_SUMMARY}`,
    ...rest.map((l) => (l === '' ? ' .' : ` ${l}`)),
    '',
  ].join('\n');
}

/** debian/copyright in the machine-readable format. */
export function copyrightFile(meta: ProductMetadata, epoch: number): string {
  const year = new Date(epoch * 1000).getUTCFullYear();
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${meta.name}
Source: ${meta.homepage}

Files: *
Copyright: ${year} ${meta.maintainer}
License: ${meta.license}
Comment: /opt/certagent/certagent embeds the Node.js runtime (MIT, with the
 licences of its bundled OpenSSL, zlib, V8, ICU and libuv) and the agent's
 JavaScript dependencies, each under its own permissive licence.

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may not
 use this file except in compliance with the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0 can
 be found in "/usr/share/common-licenses/Apache-2.0".
`;
}

/** The changelog (changelog.gz of a native package), one entry dated from SOURCE_DATE_EPOCH. */
export function changelogFile(meta: ProductMetadata, epoch: number): string {
  const date = new Date(epoch * 1000).toUTCString().replace('GMT', '+0000');
  return `${meta.name} (${debianVersion(meta)}) stable; urgency=medium

  * Release ${meta.version}.

 -- ${meta.maintainer}  ${date}
`;
}
