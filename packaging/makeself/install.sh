#!/bin/sh
# certagent installer, run by the makeself .bin after its SHA-256 check has passed and
# the archive is unpacked into a temporary directory (the current directory).
#
# Interactive: asks for the EULA, the installation token, the proxy and auto-update.
# Unattended: every answer from flags (see usage below). Secrets never go on a command
# line: the token and proxy password are read from files or prompts, and handed to
# certagent through a 0600 file.
set -eu
# makeself runs us under umask 077; installed programs and directories must be readable.
umask 022

VERSION="$(cat ./VERSION)"
PREFIX=/opt/certagent
HERE="$(pwd)"

. ./maintainer.sh
. ./service-control.sh

usage() {
	cat <<USAGE
Install certagent $VERSION (program in $PREFIX, configuration in /var/opt/certagent).

Usage: sudo ./certagent-$VERSION-linux-x64.bin [-- OPTIONS]
Without options the installer asks its questions on the terminal. Options:
  --accept-eula               accept the licence agreement (required when unattended)
  --token T                   installation token (prefer --token-file: ps shows arguments)
  --token-file F              read the installation token from file F
  --server URL                management server URL
  --ca FILE                   CA certificate (PEM) of the management server, when the
                              system roots do not hold it (kept in the configuration)
  --proxy-pac-url U           proxy auto-configuration (PAC) URL
  --proxy-host H              proxy host
  --proxy-port P              proxy port
  --proxy-domain D            NTLM domain of the proxy user
  --proxy-user U              proxy user
  --proxy-password-file F     read the proxy password from file F
  --no-auto-update            turn automatic updates off (default: on)
  --skip-register             install only; register later with 'certagent-config interactive'
                              (the service is then not started)
  --root DIR                  install into the root file system at DIR (a chroot)
  --help                      show this help
USAGE
}

die() {
	echo "certagent installer: $*" >&2
	exit 1
}

# --- answers: flags first, prompts for what is missing when a terminal is there ----------
ACCEPT_EULA=n TOKEN= TOKEN_FILE= SERVER= CA_FILE= PAC_URL= PROXY_HOST= PROXY_PORT= PROXY_DOMAIN=
PROXY_USER= PROXY_PASSWORD= PROXY_PASSWORD_FILE= AUTO_UPDATE=y SKIP_REGISTER=n
ROOT="${CERTAGENT_INSTALL_ROOT:-/}" UNATTENDED=n

need_value() {
	[ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value (run with --help)"
}

parse_flags() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--help | -h) usage; exit 0 ;;
		--accept-eula) ACCEPT_EULA=y UNATTENDED=y ;;
		--no-auto-update) AUTO_UPDATE=n ;;
		--skip-register) SKIP_REGISTER=y ;;
		--token) need_value "$@"; TOKEN="$2"; shift ;;
		--token-file) need_value "$@"; TOKEN_FILE="$2"; shift ;;
		--server) need_value "$@"; SERVER="$2"; shift ;;
		--ca) need_value "$@"; CA_FILE="$2"; shift ;;
		--proxy-pac-url) need_value "$@"; PAC_URL="$2"; shift ;;
		--proxy-host) need_value "$@"; PROXY_HOST="$2"; shift ;;
		--proxy-port) need_value "$@"; PROXY_PORT="$2"; shift ;;
		--proxy-domain) need_value "$@"; PROXY_DOMAIN="$2"; shift ;;
		--proxy-user) need_value "$@"; PROXY_USER="$2"; shift ;;
		--proxy-password-file) need_value "$@"; PROXY_PASSWORD_FILE="$2"; shift ;;
		--root) need_value "$@"; ROOT="$2"; shift ;;
		*) die "unknown option '$1' (run with --help)" ;;
		esac
		shift
	done
}

read_secret_file() {
	[ -r "$1" ] || die "cannot read $2 file '$1': check the path and its permissions"
	# First line only, without the trailing newline editors add.
	head -n 1 "$1" | tr -d '\r\n'
}

have_tty() {
	[ "$UNATTENDED" = n ] && [ -r /dev/tty ] && (: </dev/tty) 2>/dev/null
}

ask() { # ask VAR "question" [default]
	printf '%s%s: ' "$2" "${3:+ [$3]}" >/dev/tty
	IFS= read -r answer </dev/tty || answer=
	[ -n "$answer" ] || answer="${3:-}"
	eval "$1=\$answer"
}

ask_secret() {
	printf '%s: ' "$2" >/dev/tty
	stty -echo </dev/tty
	IFS= read -r answer </dev/tty || answer=
	stty echo </dev/tty
	printf '\n' >/dev/tty
	eval "$1=\$answer"
}

ask_questions() {
	if [ "$ACCEPT_EULA" != y ]; then
		${PAGER:-more} ./EULA.txt </dev/tty >/dev/tty || cat ./EULA.txt >/dev/tty
		ask reply 'Do you accept the licence agreement? (yes/no)' no
		case "$reply" in
		y | yes | Y | YES) ACCEPT_EULA=y ;;
		*) die "licence agreement not accepted; nothing was installed" ;;
		esac
	fi
	if [ -z "$TOKEN" ] && [ "$SKIP_REGISTER" = n ]; then
		ask_secret TOKEN 'Installation token (from your management server)'
	fi
	[ -n "$SERVER" ] || ask SERVER 'Management server URL (empty: the default)' ''
	[ -n "$CA_FILE" ] || [ -z "$SERVER" ] ||
		ask CA_FILE 'CA certificate file of the server (empty: system roots)' ''
	ask reply 'Use a proxy? (yes/no)' no
	case "$reply" in
	y | yes)
		ask PAC_URL 'Proxy PAC URL (empty: none)' ''
		if [ -z "$PAC_URL" ]; then
			ask PROXY_HOST 'Proxy host' ''
			ask PROXY_PORT 'Proxy port' '8080'
		fi
		ask PROXY_DOMAIN 'NTLM domain (empty: none)' ''
		ask PROXY_USER 'Proxy user (empty: none)' ''
		[ -z "$PROXY_USER" ] || ask_secret PROXY_PASSWORD 'Proxy password'
		;;
	esac
	ask reply 'Automatic updates (yes/no)' yes
	case "$reply" in n | no) AUTO_UPDATE=n ;; esac
}

check_answers() {
	[ "$ACCEPT_EULA" = y ] ||
		die "the licence agreement was not accepted: pass --accept-eula to accept it"
	if [ "$SKIP_REGISTER" = n ] && [ -z "$TOKEN" ]; then
		die "no installation token: pass --token-file FILE (or --token T)," \
			"or --skip-register to register later"
	fi
	if [ -n "$PROXY_PORT" ]; then
		case "$PROXY_PORT" in *[!0-9]*) die "--proxy-port '$PROXY_PORT' is not a port number" ;; esac
		[ "$PROXY_PORT" -ge 1 ] && [ "$PROXY_PORT" -le 65535 ] ||
			die "--proxy-port $PROXY_PORT is outside 1-65535"
	fi
	if [ -n "$CA_FILE" ]; then
		[ -r "$CA_FILE" ] || die "cannot read --ca file '$CA_FILE': check the path and its permissions"
		grep -q -- '-----BEGIN CERTIFICATE-----' "$CA_FILE" ||
			die "--ca file '$CA_FILE' holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
	fi
	if [ -n "$PROXY_PORT" ] && [ -z "$PROXY_HOST" ]; then
		die "--proxy-port given without --proxy-host"
	fi
}

# --- install ------------------------------------------------------------------------------
install_program() {
	dir="$PREFIX/versions/$VERSION"
	mkdir -p "$dir"
	cp ./certagent "$dir/certagent.new"
	chmod 0755 "$dir/certagent.new"
	mv -f "$dir/certagent.new" "$dir/certagent"
	ln -sfn certagent "$dir/certagent-config"

	# The updater swaps 'current' the same way: a new link renamed over the old one.
	ln -sfn "versions/$VERSION" "$PREFIX/current.new"
	mv -T "$PREFIX/current.new" "$PREFIX/current"
	ln -sfn current/certagent "$PREFIX/certagent"
	ln -sfn current/certagent-config "$PREFIX/certagent-config"
	printf 'bin\n' >"$PREFIX/install-kind"
	ln -sfn "$PREFIX/certagent" /usr/bin/certagent
	ln -sfn "$PREFIX/certagent-config" /usr/bin/certagent-config
}

install_service() {
	if certagent_has_systemd; then
		install -m 0644 ./certagent.service /etc/systemd/system/certagent.service
		systemctl daemon-reload
		systemctl enable certagent.service >/dev/null 2>&1
		SERVICE_KIND=systemd
		return
	fi
	install -m 0755 ./certagent.init /etc/init.d/certagent
	if command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d certagent defaults >/dev/null 2>&1
	elif command -v chkconfig >/dev/null 2>&1; then
		chkconfig --add certagent >/dev/null 2>&1
	fi
	SERVICE_KIND=sysvinit
	echo "certagent installer: no systemd running here;" \
		"installed the SysVinit script /etc/init.d/certagent instead"
}

# A record of the installer's answers (0600, service user) for support; the proxy password
# is not in it: it is stored encrypted by 'config set'.
write_install_options() {
	file="$CERTAGENT_BASE/conf/install-options.json"
	umask 077
	{
		printf '{\n  "installKind": "bin",\n  "autoUpdate": %s,\n' \
			"$([ "$AUTO_UPDATE" = y ] && echo true || echo false)"
		printf '  "server": "%s",\n' "$(json_escape "$SERVER")"
		printf '  "proxy": {\n'
		printf '    "pacUrl": "%s",\n' "$(json_escape "$PAC_URL")"
		printf '    "host": "%s",\n' "$(json_escape "$PROXY_HOST")"
		printf '    "port": "%s",\n' "$(json_escape "$PROXY_PORT")"
		printf '    "domain": "%s",\n' "$(json_escape "$PROXY_DOMAIN")"
		printf '    "user": "%s"\n  }\n}\n' "$(json_escape "$PROXY_USER")"
	} >"$file.new"
	chown "$CERTAGENT_USER:$CERTAGENT_USER" "$file.new"
	mv -f "$file.new" "$file"
	umask 022
}

# The answers go through 'certagent config set', as the service user so conf/ keeps its
# owner. The proxy password goes on stdin (config set reads secrets only from there).
apply_settings() {
	[ "$AUTO_UPDATE" = y ] && auto=true || auto=false
	as_service_user config set auto-update "$auto" >/dev/null
	for pair in "proxy.pac-url=$PAC_URL" "proxy.host=$PROXY_HOST" "proxy.port=$PROXY_PORT" \
		"proxy.domain=$PROXY_DOMAIN" "proxy.user=$PROXY_USER"; do
		[ -z "${pair#*=}" ] || as_service_user config set "${pair%%=*}" "${pair#*=}" >/dev/null
	done
	if [ -n "$PROXY_PASSWORD" ]; then
		printf '%s\n' "$PROXY_PASSWORD" | as_service_user config set proxy.password >/dev/null
	fi
}

as_service_user() {
	CERTAGENT_BASE_DIR="$CERTAGENT_BASE" setpriv --reuid "$CERTAGENT_USER" --regid "$CERTAGENT_USER" \
		--clear-groups "$CERTAGENT_PROGRAM" "$@"
}

# The manager's CA stays in the configuration: 'certagent register --ca' reads it, and the
# service's later connections trust what registration trusted.
MANAGER_CA="$CERTAGENT_BASE/conf/manager-ca.pem"
install_manager_ca() {
	[ -n "$CA_FILE" ] || return 0
	install -m 0644 -o "$CERTAGENT_USER" -g "$CERTAGENT_USER" "$CA_FILE" "$MANAGER_CA"
}

json_escape() {
	printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'
}

# The token reaches 'certagent register' through a 0600 file (or the environment for
# builds whose register has no --token-file), never through its arguments.
register_agent() {
	tokenfile="$(mktemp "$CERTAGENT_BASE/conf/.token.XXXXXX")"
	chmod 0600 "$tokenfile"
	printf '%s' "$TOKEN" >"$tokenfile"
	chown "$CERTAGENT_USER:$CERTAGENT_USER" "$tokenfile"
	set -- register
	[ -z "$SERVER" ] || set -- "$@" --server "$SERVER"
	[ -z "$CA_FILE" ] || set -- "$@" --ca "$MANAGER_CA"
	if "$CERTAGENT_PROGRAM" register --help 2>/dev/null | grep -q -- '--token-file'; then
		set -- "$@" --token-file "$tokenfile"
	fi
	status=0
	CERTAGENT_TOKEN="$TOKEN" CERTAGENT_BASE_DIR="$CERTAGENT_BASE" setpriv --reuid "$CERTAGENT_USER" \
		--regid "$CERTAGENT_USER" --clear-groups "$CERTAGENT_PROGRAM" "$@" || status=$?
	rm -f "$tokenfile"
	[ "$status" -eq 0 ] ||
		die "registration failed (certagent register exited $status); the program is installed:" \
			"run 'certagent-config interactive' to register, then start the service"
}

start_service() {
	if certagent_service_start; then
		echo "certagent installer: service started ($SERVICE_KIND)"
	else
		echo "certagent installer: the service could not be started;" \
			"start it with /etc/init.d/certagent start" >&2
	fi
}

# --root DIR: run this same installer inside DIR with chroot, with secrets copied in as
# 0600 files under DIR/tmp and removed afterwards.
reexec_in_root() {
	[ -d "$ROOT" ] || die "--root '$ROOT' is not a directory"
	stage="$(mktemp -d "$ROOT/tmp/certagent-install.XXXXXX")"
	cp -a "$HERE/." "$stage/"
	inner="/tmp/$(basename "$stage")"
	set -- --accept-eula
	[ "$ACCEPT_EULA" = y ] || die "--root needs --accept-eula (a chroot install is unattended)"
	if [ -n "$TOKEN" ]; then
		(umask 077; printf '%s' "$TOKEN" >"$stage/token")
		set -- "$@" --token-file "$inner/token"
	fi
	if [ -n "$PROXY_PASSWORD" ]; then
		(umask 077; printf '%s' "$PROXY_PASSWORD" >"$stage/proxy-password")
		set -- "$@" --proxy-password-file "$inner/proxy-password"
	fi
	if [ -n "$CA_FILE" ]; then
		cp "$CA_FILE" "$stage/manager-ca.pem"
		set -- "$@" --ca "$inner/manager-ca.pem"
	fi
	[ "$AUTO_UPDATE" = y ] || set -- "$@" --no-auto-update
	[ "$SKIP_REGISTER" = n ] || set -- "$@" --skip-register
	for pair in "--server:$SERVER" "--proxy-pac-url:$PAC_URL" "--proxy-host:$PROXY_HOST" \
		"--proxy-port:$PROXY_PORT" "--proxy-domain:$PROXY_DOMAIN" "--proxy-user:$PROXY_USER"; do
		[ -z "${pair#*:}" ] || set -- "$@" "${pair%%:*}" "${pair#*:}"
	done
	status=0
	chroot "$ROOT" /bin/sh -c 'cd "$1" && shift && exec ./install.sh "$@"' \
		sh "$inner" "$@" || status=$?
	rm -rf "$stage"
	exit "$status"
}

main() {
	parse_flags "$@"
	[ "$(id -u)" -eq 0 ] ||
		die "must run as root: run it again with sudo (it installs a service and a system user)"
	if [ "$ACCEPT_EULA" = n ] || [ -z "$TOKEN$TOKEN_FILE" ]; then
		if have_tty; then ask_questions; fi
	fi
	[ -z "$TOKEN_FILE" ] || TOKEN="$(read_secret_file "$TOKEN_FILE" token)"
	[ -z "$PROXY_PASSWORD_FILE" ] ||
		PROXY_PASSWORD="$(read_secret_file "$PROXY_PASSWORD_FILE" 'proxy password')"
	check_answers
	if [ "$ROOT" != / ]; then reexec_in_root; fi

	echo "certagent installer: installing $VERSION into $PREFIX"
	install_program
	certagent_create_user
	certagent_create_dirs
	certagent_init_local_store
	install_manager_ca
	write_install_options
	apply_settings
	install_service

	if [ "$SKIP_REGISTER" = y ]; then
		echo "certagent installer: installed, not registered:" \
			"run 'certagent-config interactive', then start the service"
		exit 0
	fi
	register_agent
	start_service
	echo "certagent installer: done"
}

main "$@"
