"""``ticketctl up``, ``down`` and ``status``: the stack on Docker.

Each command loads settings, connects to the Engine, makes one library call
(:mod:`ticketctl.project`) and draws the result. ``up`` draws the core's
progress events as a live table per service (phase, health, elapsed) with a
bar per image being pulled; without a terminal it prints one line per change.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ticketctl.cli.common import (
    JSON_OPTION,
    confirmer,
    console,
    flag,
    interruption,
    load,
    print_json,
    print_table,
    print_warning,
)
from ticketctl.cli.completion import complete_services
from ticketctl.errors import AbortedError, ConfigError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from rich.console import Console, RenderableType

    from ticketctl.config.settings import Settings
    from ticketctl.events import Event
    from ticketctl.project import Initialiser
    from ticketctl.runtime.docker import DockerRuntime
    from ticketctl.runtime.health import ServiceFailedError


_Report = TypeVar("_Report")


def connect(settings: Settings) -> DockerRuntime:
    """The Docker Engine of DOCKER_HOST or the current docker context."""
    if not settings.docker_enabled:
        raise ConfigError(
            f"docker.enabled is false ({settings.source_of('docker.enabled')}): this command manages Docker containers",
            hint="set docker.enabled to true, or manage the remote services yourself",
        )
    from ticketctl.runtime.docker import DockerRuntime

    return DockerRuntime.connect()


def initialiser(*, migrate: bool = True) -> Initialiser:
    """What ``up`` runs once the stack is healthy: the library calls behind migrate and index create.

    Without ``migrate`` (``--no-init``) only the MySQL application users are made.
    """
    from ticketctl.initialise import initialise_stack, initialise_users

    return initialise_stack if migrate else initialise_users


LOCK_TIMEOUT_OPTION = typer.Option(
    120.0, "--lock-timeout", metavar="SECONDS", help="How long to wait for another up/down on this project."
)
WAIT_TIMEOUT_OPTION = typer.Option(
    None, "--wait-timeout", metavar="SECONDS", help="Overall health wait (default: wait_timeout setting, 300)."
)


def up_command(
    ctx: typer.Context,
    services: list[str] = typer.Argument(
        None, help="Only these services (and what they depend on).", autocompletion=complete_services
    ),
    no_render: bool = typer.Option(False, "--no-render", help="Use the files already rendered; do not render first."),
    force_recreate: bool = typer.Option(False, "--force-recreate", help="Recreate containers even if unchanged."),
    remove_orphans: bool = typer.Option(
        False,
        "--remove-orphans",
        help="Remove containers of services no longer in the file (not those of a profile that is not enabled).",
    ),
    no_wait: bool = typer.Option(False, "--no-wait", help="Do not wait for health (and skip initialisation)."),
    wait_timeout: float | None = WAIT_TIMEOUT_OPTION,
    service_timeout: float = typer.Option(
        None,
        "--service-timeout",
        metavar="SECONDS",
        help="Health wait per service (default: its healthcheck's own budget).",
    ),
    keep_on_failure: bool = typer.Option(
        False, "--keep-on-failure", help="On failure keep the containers of this run to inspect them."
    ),
    no_init: bool = typer.Option(
        False,
        "--no-init",
        help="Do not run migrations or create the search index (the MySQL application users are still made).",
    ),
    profile: list[str] = typer.Option(None, "--profile", help="Enable a profile ('apps'); overrides the setting."),
    lock_timeout: float = LOCK_TIMEOUT_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Render, then create or converge the stack on Docker and wait until every service is healthy.

    A second run changes nothing. A changed service is recreated alone (its
    volumes are kept). Ports are checked before anything is created; a failed
    run removes the containers it created.
    """
    from ticketctl.clients.mysql import login_probe
    from ticketctl.project import up

    overrides = {"profiles": flag(list(profile) if profile else None, "--profile")}
    settings = load(ctx, overrides, changes=True)
    runtime = connect(settings)
    report = _with_progress(
        "up",
        json_output,
        lambda view: up(
            settings,
            runtime,
            render=not no_render,
            services=services or None,
            force_recreate=force_recreate,
            remove_orphans=remove_orphans,
            wait=not no_wait,
            wait_timeout=wait_timeout,
            service_timeout=service_timeout,
            keep_on_failure=keep_on_failure,
            initialise=initialiser(migrate=not no_init),
            lock_timeout=lock_timeout,
            on_event=view,
            mysql_login=login_probe(settings),
        ),
    )
    if json_output:
        print_json(report.as_dict())
        return
    unchanged = sum(1 for result in report.services if result.action == "unchanged")
    verb = "is up" if report.changed else "was already up"
    typer.echo(
        f"{settings.project} {verb}: {len(report.services)} service(s) ready, {unchanged} unchanged, "
        f"in {report.elapsed:.1f}s"
    )
    for result in report.services:
        state = result.state + (f" ({result.health})" if result.health else "")
        typer.echo(f"  {result.service:<22} {result.action:<10} {state:<19} {result.container}")
    for orphan in report.orphans:
        print_warning(f"orphan container {orphan}: its service is not in the file; remove it with --remove-orphans")


def _with_progress(command: str, json_output: bool, call: Callable[[UpView], _Report]) -> _Report:
    """Run ``call`` drawing its events: a live table on a terminal, lines otherwise, only warnings with --json.

    A failed service's last log lines come before its error; a Ctrl-C says what is left.
    """
    from ticketctl.runtime.health import ServiceFailedError

    live = not json_output and sys.stderr.isatty()
    # Without the live table the view writes plain lines: rich (20-40 ms to import) is not needed.
    view = UpView(console(stderr=True) if live else None, live=live, quiet=json_output)
    try:
        with _interruption(command), view:
            return call(view)
    except ServiceFailedError as error:
        _print_failure(error)
        raise


def _interruption(command: str) -> AbstractContextManager[None]:
    return interruption(
        command,
        "containers already created are left as they are",
        f"run `ticketctl {command}` again; it converges from where it stopped",
    )


def _print_failure(error: ServiceFailedError) -> None:
    """The failed service's last log lines and health output (secrets already masked) on stderr."""
    out = sys.stderr
    if error.logs:
        out.write(f"--- last {len(error.logs)} log lines of {error.service} ---\n")
        out.writelines(f"  {line}\n" for line in error.logs)
    if error.health_output:
        out.write(f"--- last health check output of {error.service} ---\n")
        out.writelines(f"  {line}\n" for line in error.health_output.splitlines()[-10:])
    out.flush()


def down_command(
    ctx: typer.Context,
    volumes: bool = typer.Option(
        False,
        "--volumes",
        "-v",
        help="Also delete the volumes, named ones and the anonymous ones of its containers: ALL DATA of the stack.",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before deleting volumes."),
    lock_timeout: float = LOCK_TIMEOUT_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Stop and remove the stack's containers and network. Volumes (the data) are kept unless --volumes."""
    from ticketctl.project import down, project_volumes

    settings = load(ctx, changes=True)
    runtime = connect(settings)
    if volumes and not yes:
        names = project_volumes(settings, runtime)
        question = (
            f"Delete {len(names)} volume(s) of project {settings.project!r} ({', '.join(names)}) and all their data?"
        )
        if names and not confirmer(yes)(question):
            raise AbortedError("nothing was removed", hint="run again and confirm, or add --yes")
    with _interruption("down"):
        report = down(settings, runtime, volumes=volumes, lock_timeout=lock_timeout)
    if json_output:
        print_json(report.as_dict())
        return
    typer.echo(
        f"{settings.project} is down: removed {len(report.removed_containers)} container(s) "
        f"and {len(report.removed_networks)} network(s)"
    )
    if report.removed_volumes:
        typer.echo(f"  deleted volumes: {', '.join(report.removed_volumes)}")
    if report.kept_volumes:
        typer.echo(f"  kept volumes (the data): {', '.join(report.kept_volumes)}")
        typer.echo(f"  list them: {report.list_volumes_command}; delete them: ticketctl down --volumes")


def status_command(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Show each service's container: state, health, ports, image and uptime."""
    from ticketctl.project import status

    settings = load(ctx)
    rows = status(settings, connect(settings))
    if json_output:
        print_json({"project": settings.project, "services": [row.as_dict() for row in rows]})
        return
    from rich.table import Table

    table = Table("service", "state", "health", "ports", "image", "uptime", box=None, header_style="bold")
    for row in rows:
        name = f"{row.service} (orphan)" if row.orphan else row.service
        if row.inactive_profiles:
            name = f"{row.service} (profile {', '.join(row.inactive_profiles)})"
        table.add_row(
            name,
            row.state,
            row.health or "",
            ", ".join(row.ports),
            row.image or "",
            _duration(row.uptime) if row.uptime is not None else "",
        )
    print_table(table)


def restart_command(
    ctx: typer.Context,
    services: list[str] | None = typer.Argument(
        None, help="Only these services (default: every container of the project).", autocompletion=complete_services
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", "-t", metavar="SECONDS", help="Stop grace period (default: each service's own)."
    ),
    no_wait: bool = typer.Option(False, "--no-wait", help="Do not wait until the services are healthy again."),
    wait_timeout: float | None = WAIT_TIMEOUT_OPTION,
    lock_timeout: float = LOCK_TIMEOUT_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Restart services in place (the same containers, the same data) and wait until they are healthy again.

    A changed configuration is not applied: `ticketctl up` does that.
    """
    from ticketctl.project import restart

    settings = load(ctx)
    runtime = connect(settings)
    report = _with_progress(
        "restart",
        json_output,
        lambda view: restart(
            settings,
            runtime,
            services or (),
            wait=not no_wait,
            stop_timeout=timeout,
            wait_timeout=wait_timeout,
            lock_timeout=lock_timeout,
            on_event=view,
        ),
    )
    if json_output:
        print_json(report.as_dict())
        return
    typer.echo(f"{settings.project}: restarted {len(report.services)} service(s) in {report.elapsed:.1f}s")
    for result in report.services:
        state = result.state + (f" ({result.health})" if result.health else "")
        typer.echo(f"  {result.service:<22} {state:<19} {result.container}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


# --------------------------------------------------------------------------- the live view


@dataclass
class _Row:
    phase: str = "queued"
    action: str = ""
    health: str = ""
    detail: str = ""
    began: float = 0.0
    ended: float | None = None


FINAL_PHASES = ("healthy", "ready", "failed", "removed")


class UpView:
    """Draws ``up``'s events: a live table on a terminal, plain lines otherwise, only warnings with --json."""

    def __init__(self, console: Console | None, *, live: bool, quiet: bool = False):
        self.console = console
        self.live_enabled = live
        self.quiet = quiet
        self.rows: dict[str, _Row] = {}
        self.pulls: dict[str, dict[str, tuple[int, int]]] = {}
        self.lock = threading.Lock()
        self._live: Any = None

    def __enter__(self) -> UpView:
        if self.live_enabled and self.console is not None:
            from rich.live import Live

            self._live = Live(
                console=self.console, get_renderable=self.renderable, refresh_per_second=8, transient=True
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __call__(self, event: Event) -> None:
        from ticketctl.events import Notice, StepEvent
        from ticketctl.runtime.events import PullEvent, ResourceEvent, ServiceEvent

        with self.lock:
            if isinstance(event, ServiceEvent):
                self._service(event)
            elif isinstance(event, PullEvent):
                self._pull(event)
            elif isinstance(event, Notice):
                self._line(f"{event.level}: {event.message}", always=event.level == "warning")
            elif isinstance(event, StepEvent) and (event.status != "started" or event.step in ("lock", "initialise")):
                always = event.status in ("failed", "skipped") or event.step == "lock"
                self._line(
                    f"{event.step}: {event.status}" + (f" ({event.detail})" if event.detail else ""), always=always
                )
            elif isinstance(event, ResourceEvent) and event.action not in ("exists", "kept"):
                self._line(f"{event.kind} {event.name}: {event.action}")

    def _service(self, event: Any) -> None:
        now = time.monotonic()
        row = self.rows.setdefault(event.service, _Row(began=now - event.elapsed))
        changed = (row.phase, row.health) != (event.phase, event.health or "")
        row.phase, row.action, row.health, row.detail = (
            event.phase,
            event.action or "",
            event.health or "",
            event.detail,
        )
        row.ended = now if event.phase in FINAL_PHASES else None
        if changed:
            health = f" [{row.health}]" if row.health else ""
            detail = f": {row.detail}" if row.detail else ""
            self._line(f"{event.service}: {event.phase}{health}{detail} ({event.elapsed:.1f}s)")

    def _pull(self, event: Any) -> None:
        layers = self.pulls.setdefault(event.image, {})
        if event.layer and event.total:
            layers[event.layer] = (event.current or 0, event.total)
        if event.status.startswith(("Pulling from", "retrying", "Status:")):
            self._line(f"pull {event.image}: {event.status}", always=True)

    def _line(self, text: str, *, always: bool = False) -> None:
        """Print a line: with --json only warnings and lock waits (on stderr), stdout stays JSON."""
        if self.quiet and not always:
            return
        if self._live is not None:
            if always:
                self._live.console.print(text, highlight=False, markup=False)
            return
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def renderable(self) -> RenderableType:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        with self.lock:
            now = time.monotonic()
            table = Table("service", "action", "phase", "health", "elapsed", "", box=None, header_style="bold")
            for name, row in self.rows.items():
                elapsed = (row.ended or now) - row.began
                style = {"healthy": "green", "ready": "green", "failed": "red", "removed": "dim"}.get(
                    row.phase, "yellow"
                )
                table.add_row(
                    name, row.action, f"[{style}]{row.phase}[/]", row.health, f"{elapsed:5.1f}s", row.detail[:60]
                )
            parts: list[RenderableType] = [table]
            for image, layers in self.pulls.items():
                total = sum(t for _, t in layers.values()) or None
                done = sum(c for c, _ in layers.values())
                bars = Table.grid(padding=(0, 1))
                bars.add_row(f"pull {image}", ProgressBar(total=total, completed=done, width=30))
                parts.append(bars)
            return Group(*parts)
