"""``ticketctl shell mysql|redis|search`` and ``ticketctl exec``: a client of the stack, or any command, in place.

Each command picks the streams (a terminal in raw mode for an interactive
session, the pipes as they are for a script), makes one library call
(:mod:`ticketctl.shell`) and exits with the client's own exit code.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from ticketctl.cli.common import load, load_with_secrets, print_error
from ticketctl.cli.completion import complete_databases, complete_service

if TYPE_CHECKING:
    from ticketctl.clients.search import SearchReply
    from ticketctl.config.secrets import Secrets
    from ticketctl.config.settings import Settings
    from ticketctl.runtime.docker import DockerRuntime
    from ticketctl.runtime.exec import Streams
    from ticketctl.shell import ClientCommand, SearchCall

shell_app = typer.Typer(
    name="shell",
    help="Open the client of a server of the stack, logged in as the right user: mysql, redis or search. "
    "With a query (or input on stdin) it runs once, for scripts, and exits with the client's exit code.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
PASSTHROUGH = {"allow_interspersed_args": False}


@shell_app.command("mysql", context_settings=PASSTHROUGH)
def mysql_command(
    ctx: typer.Context,
    database: str | None = typer.Argument(
        None,
        help="events, inventory or bookings (or the database's name). Default: events, as its own user.",
        autocompletion=complete_databases,
    ),
    client_args: list[str] | None = typer.Argument(
        None, metavar="[-- CLIENT_OPTION...]", help="More options for the mysql client, after the database."
    ),
    execute: str | None = typer.Option(
        None, "--execute", "-e", metavar="SQL", help="Run SQL, print the result and exit (for scripts)."
    ),
    root: bool = typer.Option(False, "--root", help="Log in as mysql.root_user (all databases) instead."),
) -> None:
    """The mysql client in the MySQL container, logged in as the database's application user.

    Interactive on a terminal; with --execute, or SQL on stdin, it runs once and
    exits with the client's exit code. The password goes through an option file
    on a file descriptor, never onto a command line.
    """
    from ticketctl.shell import mysql_client

    arguments = list(client_args or [])
    chosen: str | None = database
    if database is not None and database.startswith("-"):  # `shell mysql -- --opt`: no database named
        chosen, arguments = None, [database, *arguments]
    settings, secrets = _setup(ctx)
    streams = _streams(interactive=execute is None, reads_stdin=execute is None)
    command = mysql_client(
        settings,
        secrets,
        chosen,
        root=root,
        execute=execute,
        table=execute is not None and sys.stdout.isatty(),
        arguments=arguments,
    )
    _run(settings, command, streams)


@shell_app.command("redis", context_settings=PASSTHROUGH)
def redis_command(
    ctx: typer.Context,
    arguments: list[str] | None = typer.Argument(
        None, metavar="[COMMAND [ARG...]]", help="A Redis command to run once (e.g. INFO server); else interactive."
    ),
) -> None:
    """redis-cli in the Redis container, authenticated (REDISCLI_AUTH, never on a command line).

    With a command, or commands on stdin, it runs once and exits with redis-cli's exit code.
    """
    from ticketctl.shell import redis_client

    settings, secrets = _setup(ctx)
    streams = _streams(interactive=not arguments, reads_stdin=not arguments)
    _run(settings, redis_client(settings, secrets, arguments or []), streams)


@shell_app.command("search")
def search_command(
    ctx: typer.Context,
    method: str | None = typer.Argument(None, help="GET, POST, PUT, DELETE or HEAD; without it, a prompt (or stdin)."),
    path: str | None = typer.Argument(None, help="The request path, e.g. /_cat/indices?v or /events/_search."),
    data: str | None = typer.Option(
        None, "--data", "-d", metavar="BODY", help="Request body: JSON text, @FILE, or @- for stdin."
    ),
) -> None:
    """Send requests to the search engine at search.url, like curl: one from the arguments, or a prompt.

    At the prompt (or from stdin, one per line) a request is METHOD PATH [JSON BODY].
    The answer is printed (JSON indented); an error status exits with code 9.
    """
    from ticketctl.shell import SearchCall, search_session

    settings, secrets = _setup(ctx)
    if method is not None:
        if path is None:
            raise typer.BadParameter("give the request path after the method, e.g. GET /_cat/indices?v")
        calls: Iterator[SearchCall] = iter([SearchCall.build(method, path, _body(data))])
    else:
        calls = _prompt() if sys.stdin.isatty() else _script_lines()
    code = search_session(settings, secrets, calls, on_reply=_print_reply, keep_going=sys.stdin.isatty())
    raise typer.Exit(code)


def exec_command(
    ctx: typer.Context,
    service: str = typer.Argument(
        ..., help="The service whose container runs the command.", autocompletion=complete_service
    ),
    command: list[str] = typer.Argument(..., metavar="COMMAND [ARG...]", help="The command and its arguments."),
    no_tty: bool = typer.Option(False, "--no-tty", "-T", help="Do not allocate a terminal (default: when on one)."),
    env: list[str] | None = typer.Option(None, "--env", "-e", metavar="KEY=VALUE", help="Set an environment variable."),
    user: str | None = typer.Option(None, "--user", "-u", metavar="USER", help="Run as this user (name or uid[:gid])."),
    workdir: str | None = typer.Option(
        None, "--workdir", "-w", metavar="DIR", help="Run in this folder of the container."
    ),
) -> None:
    """Run a command in a service's running container, like `docker compose exec`; exits with its exit code."""
    from ticketctl.shell import exec_in_service

    settings = load(ctx)
    environment = {}
    for item in env or []:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise typer.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--env")
        environment[key] = value
    streams = _streams(interactive=not no_tty, reads_stdin=True)
    runtime = _connect(settings)
    with _terminal(streams):
        code = exec_in_service(
            settings, runtime, service, command, streams, environment=environment, user=user, workdir=workdir
        )
    raise typer.Exit(code)


# --------------------------------------------------------------------------- helpers


def _setup(ctx: typer.Context) -> tuple[Settings, Secrets]:
    return load_with_secrets(ctx)


def _connect(settings: Settings) -> DockerRuntime:
    from ticketctl.cli.stack import connect

    return connect(settings)


def _streams(*, interactive: bool, reads_stdin: bool) -> Streams:
    """A terminal of its own when this process is on one (both ends) and the session is interactive."""
    from ticketctl.runtime.exec import Streams

    stdin_is_terminal = sys.stdin.isatty()
    tty = interactive and stdin_is_terminal and sys.stdout.isatty()
    attach = reads_stdin and (tty or not stdin_is_terminal)
    return Streams(stdin=sys.stdin.fileno() if attach else None, stdout=1, stderr=2, tty=tty)


def _run(settings: Settings, command: ClientCommand, streams: Streams) -> None:
    from ticketctl.shell import run_client

    runtime = _connect(settings)
    if streams.tty:
        typer.echo(f"{command.service}: {command.summary} (exit with Ctrl-D)", err=True)
    sys.stdout.flush()
    with _terminal(streams):
        code = run_client(settings, runtime, command, streams)
    raise typer.Exit(code)


@contextlib.contextmanager
def _terminal(streams: Streams) -> Iterator[None]:
    """The terminal in raw mode for the session (keys go to the container's terminal as typed), restored after."""
    if not streams.tty or streams.stdin is None:
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(streams.stdin)
    try:
        tty.setraw(streams.stdin)
        yield
    finally:
        termios.tcsetattr(streams.stdin, termios.TCSADRAIN, saved)


def _body(data: str | None) -> bytes | None:
    if data is None:
        return None
    if data == "@-":
        return sys.stdin.buffer.read()
    if data.startswith("@"):
        from pathlib import Path

        try:
            return Path(data[1:]).read_bytes()
        except OSError as error:
            raise typer.BadParameter(f"cannot read {data[1:]}: {error.strerror}", param_hint="--data") from None
    return data.encode("utf-8")


def _prompt() -> Iterator[SearchCall]:
    from ticketctl.shell import SearchCall

    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    typer.echo("METHOD PATH [JSON BODY], e.g. GET /_cat/indices?v; exit with Ctrl-D", err=True)
    while True:
        try:
            line = input("search> ")
        except EOFError:
            typer.echo("", err=True)
            return
        if line.strip() in ("exit", "quit"):
            return
        if line.strip():
            try:
                yield SearchCall.parse(line)
            except ValueError as error:
                typer.echo(f"error: {error}", err=True)


def _script_lines() -> Iterator[SearchCall]:
    from ticketctl.errors import ConfigError
    from ticketctl.shell import SearchCall

    for number, line in enumerate(sys.stdin, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                yield SearchCall.parse(line)
            except ValueError as error:
                raise ConfigError(f"stdin:{number}: {error}", hint="write METHOD PATH [JSON BODY] per line") from None


def _print_reply(reply: SearchReply) -> None:
    sys.stdout.write(reply.text())
    sys.stdout.flush()
    if not reply.ok:
        print_error(reply.failure(), None)
