import { maintainerScript } from '../linux-service/scripts.ts';
import type { ProductMetadata } from '../packager.ts';
import { PACKAGE_SUMMARY, packageDescription } from '../linux-service/description.ts';

export const RPM_RELEASE = '1';

/**
 * The generated spec. The staged tree is copied in as is; rpmbuild must not strip the
 * single executable (that would cut the injected application out) nor make debuginfo.
 * Requires come from rpm's own ELF scan (sonames with their GLIBC versions).
 */
export function specFile(meta: ProductMetadata, stagedRoot: string, epoch: number): string {
  return `%define use_source_date_epoch_as_buildtime 1
%define clamp_mtime_to_source_date_epoch 1
%define _buildhost reproducible.certagent.invalid
%global debug_package %{nil}
%global __os_install_post %{nil}
%global __strip /bin/true

Name:           ${meta.name}
Version:        ${meta.version}
Release:        ${RPM_RELEASE}
Summary:        ${PACKAGE_SUMMARY}
Group:          Applications/System
License:        ${meta.license}
URL:            ${meta.homepage}
Vendor:         ${meta.maintainer.replace(/ <.*/, '')}
Packager:       ${meta.maintainer}
ExclusiveArch:  x86_64
AutoProv:       no
Requires(pre):  shadow-utils
Requires(post): util-linux

%description
${packageDescription(meta).join('\n')}

%prep

%build

%install
cp -a ${stagedRoot}/. %{buildroot}/

%pre
${body(PRE)}

%post
${body(POST)}

%preun
${body(PREUN)}

%postun
${body(POSTUN)}

%files
%dir /opt/certagent
/opt/certagent/certagent
/opt/certagent/certagent-config
/opt/certagent/install-kind
/usr/bin/certagent
/usr/bin/certagent-config
%{_unitdir}/certagent.service
/etc/rc.d/init.d/certagent
%{_mandir}/man8/certagent.8.gz
%{_mandir}/man8/certagent-config.8.gz

%changelog
* ${changelogDate(epoch)} ${meta.maintainer} - ${meta.version}-${RPM_RELEASE}
- Release ${meta.version}.
`;
}

// Scriptlets run under /bin/sh with the shared functions inlined; rpm passes the count
// of installed instances in $1 (1 on install, 2 on upgrade, 0 on erase).
function body(script: string): string {
  return maintainerScript(script, { serviceControl: true })
    .replace(/^#!\/bin\/sh\n/, '')
    .replace(/\nexit 0\n$/, '\n');
}

const PRE = `certagent_create_user`;

// Enabled, not started: a first install has no registration yet (SPEC section 5). The
// SysVinit script is registered with chkconfig only where systemd does not run, as the .deb's
// update-rc.d serves only init systems other than systemd.
const POST = `
certagent_create_dirs
certagent_init_local_store
if certagent_has_systemd; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if [ "$1" -eq 1 ]; then
		systemctl enable certagent.service >/dev/null 2>&1 || true
	fi
elif command -v chkconfig >/dev/null 2>&1; then
	chkconfig --add certagent >/dev/null 2>&1 || true
fi
`;

const PREUN = `
if [ "$1" -eq 0 ]; then
	certagent_service_stop
	if certagent_has_systemd; then
		systemctl disable certagent.service >/dev/null 2>&1 || true
	elif command -v chkconfig >/dev/null 2>&1; then
		chkconfig --del certagent >/dev/null 2>&1 || true
	fi
fi
`;

// On upgrade the new binary is picked up only by a service that was already running.
// An erase keeps /var/opt/certagent (rpm has no purge): remove it by hand to forget the agent.
const POSTUN = `
if certagent_has_systemd; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" -ge 1 ]; then
	certagent_service_try_restart
fi
`;

function changelogDate(epoch: number): string {
  const d = new Date(epoch * 1000);
  const day = d.toUTCString().slice(0, 3);
  const month = d.toUTCString().slice(8, 11);
  return `${day} ${month} ${String(d.getUTCDate()).padStart(2, '0')} ${d.getUTCFullYear()}`;
}
