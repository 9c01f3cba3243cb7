"""The MySQL accounts inside a restored data volume, given the passwords ``.env`` holds now.

A copy of MySQL's data volume carries ``mysql.user`` with the password hashes
of the moment it was taken. When ``secrets rotate`` ran since, the restored
accounts would refuse the passwords in ``.env``, and nobody would hold the old
ones. So, before the restored server starts, a helper container runs the same
image on the volume with ``--skip-grant-tables --skip-networking`` (reachable
only through a socket inside the helper), gives the accounts the current
passwords and shuts down. The statements carry the hashes the server stores
(:func:`~ticketctl.clients.mysql.password_change`), never a password, and come
from a file placed into the helper, never from a command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ticketctl.clients.mysql import ROOT_PASSWORD_SECRET, ServerInfo, password_script
from ticketctl.config.settings import Settings
from ticketctl.errors import DatabaseError
from ticketctl.rotation import user_of_secret
from ticketctl.runtime.docker import Container, DockerRuntime

PASSWORD_FILE = "/tmp/ticketctl-passwords.sql"
SOCKET = "/tmp/ticketctl-offline.sock"
OFFLINE_SCRIPT = f"""set -e
mysqld --skip-grant-tables --skip-networking --user=mysql --datadir=/var/lib/mysql --socket={SOCKET} \\
  --pid-file=/tmp/ticketctl-offline.pid >/tmp/ticketctl-offline.log 2>&1 &
i=0
until mysqladmin --socket={SOCKET} -uroot ping >/dev/null 2>&1; do
  i=$((i + 1)); if [ "$i" -gt 240 ]; then cat /tmp/ticketctl-offline.log >&2; exit 1; fi; sleep 0.5
done
mysql --socket={SOCKET} -uroot < {PASSWORD_FILE}
mysqladmin --socket={SOCKET} -uroot shutdown
wait
"""


def mysql_secret_names(settings: Settings) -> list[str]:
    return [ROOT_PASSWORD_SECRET, *(database.password_env for database in settings.mysql.databases)]


def offline_statements(
    server: ServerInfo, accounts: Sequence[tuple[str, str]], users: Mapping[str, str], passwords: Mapping[str, str]
) -> str:
    """``FLUSH PRIVILEGES`` (grant tables are not loaded under --skip-grant-tables), then each account of a
    changed user (``users``: user -> secret) gets its password from ``passwords`` as a hash."""
    changes = [(user, host, passwords[users[user]]) for user, host in accounts if user in users]
    return "FLUSH PRIVILEGES;\n" + password_script(server, changes) + "FLUSH PRIVILEGES;\n"


def set_passwords_offline(
    runtime: DockerRuntime,
    container: Container,
    volume: str,
    settings: Settings,
    secrets: Mapping[str, str],
    changed: Sequence[str],
    *,
    server: ServerInfo,
    accounts: Sequence[tuple[str, str]],
) -> None:
    users = {user_of_secret(settings, name): name for name in changed}
    sql = offline_statements(server, accounts, users, secrets)
    result = runtime.run_helper(
        container.image_id or container.image,
        ["sh", "-c", OFFLINE_SCRIPT],
        volumes={volume: "/var/lib/mysql"},
        project=settings.project,
        files={PASSWORD_FILE: sql.encode("utf-8")},
    )
    if result.exit_code != 0:
        raise DatabaseError(
            f"could not give the restored MySQL accounts the passwords of .env: {result.last_error_line}",
            hint="run the restore again; if it fails again, restore with the .env of the snapshot's time",
        )
