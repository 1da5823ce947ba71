# Shared install logic of the .deb, the .rpm and the .bin, inlined into each one's
# scripts at build time (a purge runs after the package files are gone, so nothing here
# may be sourced from the installed tree). POSIX sh; every function is idempotent.

CERTAGENT_USER=certagent
CERTAGENT_BASE=/var/opt/certagent
CERTAGENT_PROGRAM=/opt/certagent/certagent

# The service account: a system user with no shell and no login.
certagent_create_user() {
	if ! getent group "$CERTAGENT_USER" >/dev/null; then
		groupadd --system "$CERTAGENT_USER"
	fi
	if ! getent passwd "$CERTAGENT_USER" >/dev/null; then
		useradd --system --gid "$CERTAGENT_USER" --home-dir "$CERTAGENT_BASE" \
			--no-create-home --shell /usr/sbin/nologin --comment "certagent service" \
			"$CERTAGENT_USER"
	fi
}

# conf/ holds secrets (identity key, local-store key): only the service user reads it.
# queue/ holds results not yet delivered to the manager and run/ the control socket
# (agent/config/agent-files.ts); the base itself stays root's, so the service cannot
# create them on its own.
certagent_create_dirs() {
	for dir in conf logs queue run; do
		mkdir -p "$CERTAGENT_BASE/$dir"
		chown "$CERTAGENT_USER:$CERTAGENT_USER" "$CERTAGENT_BASE/$dir"
		chmod 0750 "$CERTAGENT_BASE/$dir"
	done
	chmod 0700 "$CERTAGENT_BASE/run"
	chown root:root "$CERTAGENT_BASE"
	chmod 0755 "$CERTAGENT_BASE"
}

# The encrypted local-store, created once at install and kept on upgrade.
certagent_init_local_store() {
	if "$CERTAGENT_PROGRAM" credstore --help 2>/dev/null | grep -q 'init-local'; then
		# As the service user, so the store and its key belong to it from the start.
		CERTAGENT_BASE_DIR="$CERTAGENT_BASE" setpriv --reuid "$CERTAGENT_USER" \
			--regid "$CERTAGENT_USER" --clear-groups "$CERTAGENT_PROGRAM" credstore init-local \
			>/dev/null ||
			echo "certagent: could not create the local-store;" \
				"run 'certagent-config credstore init-local' later" >&2
	fi
}

# Purge: configuration, logs and the service account go; nothing else keeps them.
certagent_purge_data() {
	rm -rf "$CERTAGENT_BASE"
	if getent passwd "$CERTAGENT_USER" >/dev/null; then
		userdel "$CERTAGENT_USER" >/dev/null 2>&1 || true
	fi
	if getent group "$CERTAGENT_USER" >/dev/null; then
		groupdel "$CERTAGENT_USER" >/dev/null 2>&1 || true
	fi
}
