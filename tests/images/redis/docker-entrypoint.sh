#!/bin/sh
# Entrypoint of ticketctl's local Redis image, following the official `redis`
# image: a first argument that starts with `-` or ends in `.conf` goes to
# redis-server; `redis-server` run as root drops to the redis user (after taking
# ownership of /data); without a config file protected mode is turned off, since
# the container's port is the only way in; any other command is run as is.
set -e

case "$1" in
-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ]; then
	has_config=no
	for arg in "$@"; do
		case "$arg" in
		*.conf) has_config=yes ;;
		esac
	done
	if [ "$has_config" = no ]; then
		set -- "$@" --protected-mode no
	fi
	if [ "$(id -u)" = 0 ]; then
		find . \! -user redis -exec chown redis:redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "$@"
	fi
fi

exec "$@"
