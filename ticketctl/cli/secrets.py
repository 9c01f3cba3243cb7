"""``ticketctl secrets rotate``: change the stack's passwords without locking anyone out."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import typer

from ticketctl.cli.common import JSON_OPTION, load, print_json
from ticketctl.cli.snapshot import StepPrinter

if TYPE_CHECKING:
    from ticketctl.config.settings import Settings

# A fault-injection hook of the test suite (like git's GIT_TEST_*): the process stops itself
# (SIGSTOP) right before the named step, so that a test can kill -9 it exactly between two steps.
PAUSE_BEFORE_STEP = "TICKETCTL_TEST_PAUSE_BEFORE_STEP"

app = typer.Typer(name="secrets", help="Manage the stack's passwords (.env).", no_args_is_help=True)


@app.command("rotate")
def rotate_command(
    ctx: typer.Context,
    names: list[str] = typer.Argument(
        None, help="Secrets to rotate (default: all): MYSQL_ROOT_PASSWORD, <DB>_DB_PASSWORD, REDIS_PASSWORD."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would change; change nothing."),
    json_output: bool = JSON_OPTION,
) -> None:
    """New random passwords: applied to the running servers, then written to .env, then the containers recreated.

    An interrupted rotation is finished by the next `ticketctl secrets rotate`
    with the same new values (they wait in a 0600 journal beside .env).
    """
    from ticketctl.rotation import rotate

    settings = load(ctx)
    printer = StepPrinter(json_output)
    report = rotate(
        settings,
        names or None,
        recreate=lambda: _recreate(settings, printer),
        dry_run=dry_run,
        on_event=printer,
        step_hook=_pause_hook(),
    )
    if json_output:
        print_json(report.as_dict())
        return
    if report.dry_run:
        typer.echo("dry run: nothing was changed")
        for line in report.plan:
            typer.echo(f"  {line}")
        return
    recreated = f"; recreated {', '.join(report.recreated)}" if report.recreated else ""
    typer.echo(f"rotated {', '.join(report.rotated)}{recreated}")


def _recreate(settings: Settings, printer: StepPrinter) -> Sequence[str]:
    """``up`` without initialisation: recreates exactly the containers whose environment changed."""
    if not settings.docker_enabled:
        return ()
    from ticketctl.cli.stack import connect
    from ticketctl.clients.mysql import login_probe
    from ticketctl.project import up

    report = up(settings, connect(settings), initialise=None, on_event=None, mysql_login=login_probe(settings))
    return [result.service for result in report.services if result.action == "recreated"]


def _pause_hook() -> Callable[[str], None] | None:
    wanted = os.environ.get(PAUSE_BEFORE_STEP)
    if not wanted:
        return None

    def pause(step: str) -> None:
        if step == wanted:
            os.kill(os.getpid(), signal.SIGSTOP)

    return pause
