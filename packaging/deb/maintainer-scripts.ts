import { maintainerScript } from '../linux-service/scripts.ts';

/**
 * The .deb maintainer scripts. Service control goes through deb-systemd-helper and
 * invoke-rc.d (they pick systemd or SysVinit and honour policy-rc.d in chroots). The
 * service is enabled but never started on a first install: it has no registration yet.
 */
export function debMaintainerScripts(): Record<'postinst' | 'prerm' | 'postrm', string> {
  return {
    postinst: maintainerScript(POSTINST),
    prerm: maintainerScript(PRERM),
    postrm: maintainerScript(POSTRM),
  };
}

const POSTINST = `
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ]; then
	certagent_create_user
	certagent_create_dirs
	certagent_init_local_store

	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper unmask certagent.service >/dev/null || true
		deb-systemd-helper enable certagent.service >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
	update-rc.d certagent defaults >/dev/null

	# An upgrade of a running (hence configured) agent brings it back; a first install
	# waits for 'certagent-config interactive' and a manual start.
	if [ -e "$CERTAGENT_BASE/.restart-after-upgrade" ]; then
		rm -f "$CERTAGENT_BASE/.restart-after-upgrade"
		invoke-rc.d certagent start || true
	fi
fi
`;

const PRERM = `
if [ "$1" = "upgrade" ] && [ -d "$CERTAGENT_BASE" ]; then
	if invoke-rc.d --quiet certagent status >/dev/null 2>&1; then
		touch "$CERTAGENT_BASE/.restart-after-upgrade"
	fi
fi
if [ "$1" = "remove" ] || [ "$1" = "upgrade" ] || [ "$1" = "deconfigure" ]; then
	invoke-rc.d certagent stop || true
fi
`;

const POSTRM = `
if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
	update-rc.d certagent remove >/dev/null
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge certagent.service >/dev/null || true
	fi
	certagent_purge_data
fi
`;
