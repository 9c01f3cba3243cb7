#!/bin/bash
# Entrypoint of ticketctl's local MySQL-protocol image (MariaDB 10.11 inside).
# It follows the contract of the official `mysql` image:
#   - `mysqld` (the default command) runs the server; a first argument that starts
#     with `-` is a server flag; any other command is run as is.
#   - On the first start only (no system tables in /var/lib/mysql) it reads the
#     MYSQL_*_FILE secrets, installs the datadir, starts a temporary server on
#     the socket only, sets the root password (MYSQL_ROOT_PASSWORD,
#     MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD),
#     creates MYSQL_DATABASE and MYSQL_USER/MYSQL_PASSWORD, runs
#     /docker-entrypoint-initdb.d/*.sh (executed if executable, else sourced),
#     *.sql, *.sql.gz and *.sql.xz in name order, stops it, and then starts the
#     real server on 0.0.0.0:3306.
#   - Started as root (Compose) it owns the directories and the server drops to
#     the mysql user (999:999, as on the official image); started as that user
#     (Kubernetes: runAsUser 999, Pod Security restricted) it changes no owner,
#     and it reaches the temporary server as the socket-authenticated mysql
#     account that mariadb-install-db makes beside root.
# Like the official entrypoint: -e and pipefail but not -u, because init scripts
# are sourced into this shell and may read unset variables.
set -eo pipefail
shopt -s nullglob

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
if [[ $(id -u) == 0 ]]; then
	SERVER_USER=(--user=mysql)
	SOCKET_LOGIN=root
else
	SERVER_USER=()
	SOCKET_LOGIN=mysql
fi

log() { printf '%s [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# Only root may (and needs to) hand a directory to the mysql user.
own() { if [[ $(id -u) == 0 ]]; then chown mysql:mysql "$@"; fi; }

# Passes SQL on stdin to the temporary server as root (or the mysql account) over the socket. Sourced
# init scripts may call it with extra client options, as on the official image.
# shellcheck disable=SC2120
docker_process_sql() {
	local database=()
	if [[ -n "${MYSQL_DATABASE:-}" ]]; then database=(--database="$MYSQL_DATABASE"); fi
	mariadb --protocol=socket --socket="$SOCKET" -u"$SOCKET_LOGIN" "${database[@]}" "$@"
}

# VAR_FILE names a file holding VAR's value (Docker and Kubernetes secrets), as
# on the official image; setting both is an error.
file_env() {
	local var=$1 file_var="${1}_FILE"
	if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
		die "both $var and $file_var are set (but are exclusive)"
	fi
	if [[ -n "${!file_var:-}" ]]; then
		export "$var"="$(<"${!file_var}")"
		unset "$file_var"
	fi
}

sql_escape() { printf '%s' "${1//\'/\'\'}"; }

check_environment() {
	if [[ -z "${MYSQL_ROOT_PASSWORD:-}" && -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" && -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]]; then
		die "Database is uninitialized and password option is not specified; set one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD"
	fi
	if [[ -n "${MYSQL_USER:-}" && "${MYSQL_USER}" == root ]]; then
		die "MYSQL_USER=root is not allowed: use MYSQL_ROOT_PASSWORD for the root user"
	fi
}

start_temporary_server() {
	mkdir -p /run/mysqld && own /run/mysqld
	"$SERVER" "${SERVER_USER[@]}" --datadir="$DATADIR" --socket="$SOCKET" --skip-networking \
		--skip-name-resolve "${SERVER_ARGS[@]}" &
	TEMP_SERVER_PID=$!
	local i
	for ((i = 0; i < 60; i++)); do
		if mariadb-admin --socket="$SOCKET" -u"$SOCKET_LOGIN" --connect-timeout=1 ping >/dev/null 2>&1; then return 0; fi
		kill -0 "$TEMP_SERVER_PID" 2>/dev/null || die "the temporary server exited during initialisation"
		sleep 0.5
	done
	die "the temporary server did not answer on $SOCKET within 30 s"
}

stop_temporary_server() {
	kill -TERM "$TEMP_SERVER_PID"
	wait "$TEMP_SERVER_PID" || die "the temporary server did not stop cleanly"
}

setup_accounts() {
	local root_password="${MYSQL_ROOT_PASSWORD:-}"
	if [[ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]]; then
		root_password="$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)"
		log "GENERATED ROOT PASSWORD: $root_password"
	fi
	local pw host
	pw="$(sql_escape "$root_password")"
	host="$(sql_escape "${MYSQL_ROOT_HOST:-%}")"
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "DROP DATABASE IF EXISTS test;"
		# root@localhost keeps socket login for the entrypoint and init scripts and
		# gains the password, as on the official image.
		echo "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('$pw') OR unix_socket;"
		if [[ "${MYSQL_ROOT_HOST:-%}" != localhost ]]; then
			echo "CREATE USER IF NOT EXISTS 'root'@'$host' IDENTIFIED BY '$pw';"
			echo "GRANT ALL PRIVILEGES ON *.* TO 'root'@'$host' WITH GRANT OPTION;"
		fi
		if [[ -n "${MYSQL_DATABASE:-}" ]]; then
			echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE//\`/\`\`}\`;"
		fi
		if [[ -n "${MYSQL_USER:-}" && -n "${MYSQL_PASSWORD:-}" ]]; then
			echo "CREATE USER IF NOT EXISTS '$(sql_escape "$MYSQL_USER")'@'%' IDENTIFIED BY '$(sql_escape "$MYSQL_PASSWORD")';"
			if [[ -n "${MYSQL_DATABASE:-}" ]]; then
				echo "GRANT ALL PRIVILEGES ON \`${MYSQL_DATABASE//\`/\`\`}\`.* TO '$(sql_escape "$MYSQL_USER")'@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | mariadb --protocol=socket --socket="$SOCKET" -u"$SOCKET_LOGIN"
}

process_init_files() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			if [[ -x "$f" ]]; then
				log "running $f"
				"$f"
			else
				log "sourcing $f"
				# shellcheck disable=SC1090,SC2119
				. "$f"
			fi
			;;
		*.sql) log "running $f"; docker_process_sql <"$f" ;;
		*.sql.gz) log "running $f"; gunzip -c "$f" | docker_process_sql ;;
		*.sql.xz) log "running $f"; xzcat "$f" | docker_process_sql ;;
		*) log "ignoring $f" ;;
		esac
	done
}

initialise_datadir() {
	local var
	for var in MYSQL_ROOT_PASSWORD MYSQL_ROOT_HOST MYSQL_DATABASE MYSQL_USER MYSQL_PASSWORD; do
		file_env "$var"
	done
	check_environment
	log "initialising the database in $DATADIR"
	mkdir -p "$DATADIR" && own "$DATADIR"
	mariadb-install-db "${SERVER_USER[@]}" --auth-root-socket-user=mysql --datadir="$DATADIR" \
		--auth-root-authentication-method=socket \
		--skip-test-db --skip-name-resolve "${SERVER_ARGS[@]}" >/dev/null
	start_temporary_server
	setup_accounts
	process_init_files
	stop_temporary_server
	log "initialisation finished; starting the server"
}

SERVER=mariadbd
if [[ "${1:-}" == -* ]]; then set -- mysqld "$@"; fi
if [[ "${1:-}" == mysqld || "${1:-}" == mariadbd ]]; then
	shift
	SERVER_ARGS=("$@")
	# As on the official image, --help and --version need no datadir.
	for arg in "${SERVER_ARGS[@]}"; do
		case "$arg" in
		-'?' | --help | --print-defaults | -V | --version) exec "$SERVER" "${SERVER_ARGS[@]}" ;;
		esac
	done
	mkdir -p /run/mysqld && own /run/mysqld
	if [[ ! -d "$DATADIR/mysql" ]]; then
		initialise_datadir
	fi
	exec "$SERVER" "${SERVER_USER[@]}" --datadir="$DATADIR" "${SERVER_ARGS[@]}"
fi
exec "$@"
