# Service control for the .rpm and the .bin (the .deb uses invoke-rc.d and
# deb-systemd-helper, as Debian policy asks). systemd where it runs, else SysVinit.

certagent_has_systemd() {
	[ -d /run/systemd/system ]
}

# The SysVinit script: /etc/init.d on Debian, /etc/rc.d/init.d on RPM systems (where
# /etc/init.d is only a link, present when chkconfig is installed).
certagent_init_script() {
	for script in /etc/init.d/certagent /etc/rc.d/init.d/certagent; do
		if [ -x "$script" ]; then
			echo "$script"
			return 0
		fi
	done
	return 1
}

# Remembers whether the service ran before an upgrade, so it comes back only if it did.
certagent_note_running() {
	rm -f "$CERTAGENT_BASE/.restart-after-upgrade"
	if certagent_has_systemd; then
		systemctl is-active --quiet certagent.service 2>/dev/null || return 0
	elif script=$(certagent_init_script); then
		"$script" status >/dev/null 2>&1 || return 0
	else
		return 0
	fi
	touch "$CERTAGENT_BASE/.restart-after-upgrade"
}

certagent_service_stop() {
	if certagent_has_systemd; then
		systemctl stop certagent.service >/dev/null 2>&1 || true
	elif script=$(certagent_init_script); then
		"$script" stop >/dev/null 2>&1 || true
	fi
}

certagent_service_start() {
	if certagent_has_systemd; then
		systemctl start certagent.service
	elif script=$(certagent_init_script); then
		"$script" start
	else
		echo "certagent: no systemd and no /etc/init.d/certagent;" \
			"start '$CERTAGENT_PROGRAM run' yourself" >&2
		return 1
	fi
}

# After an upgrade: restart a running service on the new program, leave a stopped one be.
certagent_service_try_restart() {
	if certagent_has_systemd; then
		systemctl try-restart certagent.service >/dev/null 2>&1 || true
	elif script=$(certagent_init_script); then
		"$script" try-restart >/dev/null 2>&1 || true
	fi
}

# After an upgrade: start again only a service that was running (a configured agent).
certagent_restart_if_it_ran() {
	if [ -e "$CERTAGENT_BASE/.restart-after-upgrade" ]; then
		rm -f "$CERTAGENT_BASE/.restart-after-upgrade"
		certagent_service_start || true
	fi
}
