"""``ticketctl logs``: the services' logs, interleaved by time and coloured by service, like ``docker compose logs``.

Lines are written as they come, with ``service | `` in front (padded, one
colour per service on a terminal). Ctrl-C ends ``--follow``: that is how one
stops following, so it exits 0 and prints nothing more.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import typer

from ticketctl.cli.common import JSON_OPTION, load
from ticketctl.cli.completion import complete_services

if TYPE_CHECKING:
    from ticketctl.runtime.logs import LogItem

# Compose's sequence: the six basic colours, then their bright variants.
COLOURS = ("36", "33", "32", "35", "34", "31", "96", "93", "92", "95", "94", "91")


def logs_command(
    ctx: typer.Context,
    services: list[str] | None = typer.Argument(
        None, help="Only these services (default: every container of the project).", autocompletion=complete_services
    ),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until Ctrl-C."),
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="TIME",
        help="Lines since a time: 10m or 1h30m ago, 2026-11-30T10:00:00Z, Unix seconds.",
    ),
    until: str | None = typer.Option(
        None, "--until", metavar="TIME", help="Lines before a time (same forms as --since)."
    ),
    tail: str = typer.Option("all", "--tail", "-n", metavar="N", help="Only the last N lines of each container."),
    timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Show the Engine's timestamp of each line."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours (also NO_COLOR=1)."),
    no_prefix: bool = typer.Option(False, "--no-log-prefix", help="Do not put the service name in front."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Show the logs of the stack's services, interleaved by time (a stopped service's too).

    With --json, one JSON object per line: service, container, timestamp, line.
    """
    from ticketctl.cli.stack import connect
    from ticketctl.runtime.logs import logs
    from ticketctl.stack.model import build_stack

    settings = load(ctx)
    window = {name: _time(value, f"--{name}") for name, value in (("since", since), ("until", until))}
    names = list(services) if services else [service.name for service in build_stack(settings).active_services]
    view = LogView(
        names,
        colour=not no_color and not json_output and _colour_allowed(),
        prefix=not no_prefix,
        timestamps=timestamps,
        json_lines=json_output,
    )
    runtime = connect(settings)
    try:
        logs(
            settings,
            runtime,
            services or (),
            on_item=view,
            follow=follow,
            since=window["since"],
            until=window["until"],
            tail=_tail(tail),
        )
    except KeyboardInterrupt:
        sys.stdout.flush()


def _colour_allowed() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and not os.environ.get("TICKETCTL_NO_COLOR")


def _time(value: str | None, flag: str) -> float | None:
    from ticketctl.runtime.logs import parse_time

    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=flag) from None


def _tail(value: str) -> int | None:
    if value == "all":
        return None
    if not value.isdigit():
        raise typer.BadParameter(f"{value!r}: expected a number of lines or 'all'", param_hint="--tail")
    return int(value)


class LogView:
    """Writes log items: ``service | line`` with a colour per service, or JSON lines."""

    def __init__(self, names: list[str], *, colour: bool, prefix: bool, timestamps: bool, json_lines: bool):
        self.colours = {name: COLOURS[index % len(COLOURS)] for index, name in enumerate(names)}
        self.width = max((len(name) for name in names), default=0)
        self.colour = colour
        self.prefix = prefix
        self.timestamps = timestamps
        self.json_lines = json_lines

    def __call__(self, item: LogItem) -> None:
        from ticketctl.runtime.logs import ContainerExited

        if self.json_lines:
            text = json.dumps(item.as_dict(), ensure_ascii=False)
        elif isinstance(item, ContainerExited):
            text = f"{item.service} exited with code {item.exit_code}"
        else:
            stamp = f"{item.timestamp} " if self.timestamps and item.timestamp else ""
            text = f"{self._prefix(item.service)}{stamp}{item.text}"
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def _prefix(self, service: str) -> str:
        if not self.prefix:
            return ""
        if service not in self.colours:
            self.colours[service] = COLOURS[len(self.colours) % len(COLOURS)]
        self.width = max(self.width, len(service))
        label = f"{service:<{self.width}} | "
        return f"\x1b[{self.colours[service]}m{label}\x1b[0m" if self.colour else label
