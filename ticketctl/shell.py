"""``ticketctl shell`` and ``ticketctl exec``: the servers' own clients, run inside their containers.

``shell mysql`` runs the image's ``mysql`` (or ``mariadb``) client and
``shell redis`` its ``redis-cli``, each logged in as the right user, so nothing
needs installing on the host. The password never appears on a command line,
neither on the host (``/proc/*/cmdline``) nor in the container (``ps``): it
travels in the exec's environment through the Engine's API, and

* for MySQL a small ``sh`` wrapper moves it out of the environment into an
  option file on a file descriptor (``--defaults-extra-file=/dev/fd/3``, fed by
  a here-document), because ``MYSQL_PWD`` is deprecated since MySQL 8.0;
* for Redis ``redis-cli`` reads it from ``REDISCLI_AUTH`` itself.

``shell search`` has no client in the container to borrow (the engines have no
CLI); it sends each request as written to ``search.url`` from here, so it
also works against a remote cluster with ``search.username``.

Which user: an application database's own user on its own database (the
rights the services have), ``root`` only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ticketctl.clients.search import SearchReply, search_request
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import DatabaseSettings, Settings
from ticketctl.errors import ConfigError, ExitCode, TicketctlError, UnhealthyError
from ticketctl.runtime.docker import DockerRuntime
from ticketctl.runtime.exec import Streams, pump
from ticketctl.runtime.translate import container_name
from ticketctl.stack.model import MYSQL_PORT, REDIS_PORT, build_stack

PASSWORD_VARIABLE = "TICKETCTL_CLIENT_PASSWORD"
# Runs the mysql client with its password in an option file on fd 3: never in argv, and not left in
# the client's environment either. "$0" is the name of the client wanted, "$@" its options.
MYSQL_WRAPPER = f"""p=${PASSWORD_VARIABLE}; unset {PASSWORD_VARIABLE}
client=$(command -v "$0" || command -v mariadb) || {{ echo "no mysql or mariadb client here" >&2; exit 127; }}
exec "$client" --defaults-extra-file=/dev/fd/3 "$@" 3<<EOF
[client]
password="$p"
EOF
"""


@dataclass(frozen=True)
class ClientCommand:
    """A client to run in a service's container: its argv (no secret in it) and its environment (secrets)."""

    service: str
    argv: tuple[str, ...]
    environment: Mapping[str, str] = field(repr=False)
    summary: str  # what it connects to, as whom: "events_db as events_app"


def mysql_client(
    settings: Settings,
    secrets: Secrets,
    database: str | None = None,
    *,
    root: bool = False,
    execute: str | None = None,
    table: bool = False,
    arguments: Sequence[str] = (),
) -> ClientCommand:
    """The mysql client on ``database`` (a key such as ``events`` or its name ``events_db``).

    Without a database it opens the first one (``events``) as its application
    user, the everyday case; ``root`` logs in as ``mysql.root_user`` and then
    opens no database unless one is named.
    """
    env_file = settings.output_dir / ".env"
    chosen = _database(settings, database) if database is not None or not root else None
    if root:
        user, password = settings.mysql.root_user, secrets.require("MYSQL_ROOT_PASSWORD", env_file=env_file)
    else:
        assert chosen is not None
        user, password = chosen.user, secrets.require(chosen.password_env, env_file=env_file)
    argv = ["sh", "-c", MYSQL_WRAPPER, "mysql", "--protocol=TCP", "--host=127.0.0.1", f"--port={MYSQL_PORT}"]
    argv.append(f"--user={user}")
    if chosen is not None:
        argv.append(f"--database={chosen.name}")
    if table:
        argv.append("--table")
    if execute is not None:
        argv.append(f"--execute={execute}")
    argv += arguments
    where = chosen.name if chosen is not None else "the server"
    return ClientCommand("mysql", tuple(argv), {PASSWORD_VARIABLE: password}, f"{where} as {user}")


def _database(settings: Settings, wanted: str | None) -> DatabaseSettings:
    databases = settings.mysql.databases
    if wanted is None:
        return databases[0]
    for database in databases:
        if wanted in (database.key, database.name):
            return database
    choices = ", ".join(f"{db.key} ({db.name})" for db in databases)
    raise ConfigError(f"no database {wanted!r} in this stack", hint=f"choose one of: {choices}")


def redis_client(settings: Settings, secrets: Secrets, arguments: Sequence[str] = ()) -> ClientCommand:
    """``redis-cli`` on the stack's Redis and logical database; the password in ``REDISCLI_AUTH``."""
    password = secrets.require("REDIS_PASSWORD", env_file=settings.output_dir / ".env")
    argv = ("redis-cli", "-h", "127.0.0.1", "-p", str(REDIS_PORT), "-n", str(settings.redis.db), *arguments)
    return ClientCommand("redis", argv, {"REDISCLI_AUTH": password}, f"database {settings.redis.db}")


def run_client(settings: Settings, runtime: DockerRuntime, command: ClientCommand, streams: Streams) -> int:
    """Run ``command`` in its service's container wired to ``streams``; the client's exit code."""
    return exec_in_service(
        settings, runtime, command.service, list(command.argv), streams, environment=command.environment
    )


def exec_in_service(
    settings: Settings,
    runtime: DockerRuntime,
    service: str,
    argv: list[str],
    streams: Streams,
    *,
    environment: Mapping[str, str] | None = None,
    user: str | None = None,
    workdir: str | None = None,
) -> int:
    """Run ``argv`` in the running container of ``service``, like ``docker compose exec``; its exit code."""
    name = container_name(settings.project, service)
    container = runtime.inspect(name)
    if container is None:
        known = {s.name for s in build_stack(settings).services}
        if service not in known:
            raise ConfigError(
                f"no service named {service!r} in project {settings.project}",
                hint=f"choose from: {', '.join(sorted(known))}",
            )
        raise TicketctlError(
            f"{service} has no container in project {settings.project}",
            hint=f"start it with `ticketctl up {service}`",
            exit_code=ExitCode.MISSING,
        )
    if container.state != "running":
        raise UnhealthyError(
            f"{name} is {container.state}"
            + (f" (exit code {container.exit_code})" if container.state == "exited" else ""),
            hint=f"start it with `ticketctl up {service}`; `ticketctl logs {service}` shows why it stopped",
        )
    session = runtime.exec_start(
        container,
        argv,
        environment=environment or {},
        tty=streams.tty,
        stdin=streams.stdin is not None,
        user=user,
        workdir=workdir,
    )
    return pump(session, streams)


# --------------------------------------------------------------------------- search


SEARCH_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH")


@dataclass(frozen=True)
class SearchCall:
    """One request of ``shell search``: ``METHOD PATH [BODY]``."""

    method: str
    path: str
    body: bytes | None = None

    @classmethod
    def build(cls, method: str, path: str, body: bytes | None = None) -> SearchCall:
        verb = method.upper()
        if verb not in SEARCH_METHODS:
            raise ConfigError(f"unknown method {method!r}", hint=f"use one of {', '.join(SEARCH_METHODS)}")
        return cls(verb, path if path.startswith("/") else f"/{path}", body)

    @classmethod
    def parse(cls, line: str) -> SearchCall:
        """``GET /_cat/indices?v`` or ``POST /events/_search {"query": ...}``; ValueError when it is neither."""
        parts = line.strip().split(None, 2)
        if len(parts) < 2 or parts[0].upper() not in SEARCH_METHODS:
            raise ValueError(f"expected METHOD PATH [JSON BODY], got {line.strip()!r}")
        body = parts[2].encode("utf-8") if len(parts) == 3 else None
        return cls(parts[0].upper(), parts[1] if parts[1].startswith("/") else f"/{parts[1]}", body)


def search_session(
    settings: Settings,
    secrets: Secrets,
    calls: Iterable[SearchCall],
    *,
    on_reply: Callable[[SearchReply], None],
    keep_going: bool = False,
) -> int:
    """Send each request to ``search.url`` and hand its answer to ``on_reply``.

    The exit code is 0, or that of a search error once a request was answered
    with an error status: at the first one, unless ``keep_going`` (a prompt).
    """
    code = 0
    for call in calls:
        reply = search_request(settings, secrets, call.method, call.path, call.body)
        on_reply(reply)
        if not reply.ok:
            code = int(ExitCode.SEARCH)
            if not keep_going:
                return code
    return code
