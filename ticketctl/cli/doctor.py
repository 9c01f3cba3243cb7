"""``ticketctl doctor``: one look tells what is wrong and how to fix it."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from ticketctl.cli.common import JSON_OPTION, load, print_json, secrets_of

if TYPE_CHECKING:
    from ticketctl.doctor.core import DoctorReport

SYMBOLS = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red"), "skip": ("-", "bright_black")}


def doctor_command(
    ctx: typer.Context,
    checks: list[str] = typer.Argument(
        None, metavar="[CHECK]...", help="Run only these groups or checks (e.g. mysql, redis.lock)."
    ),
    list_checks: bool = typer.Option(False, "--list", help="List the checks and exit."),
    timeout: float = typer.Option(3.0, "--timeout", min=0.1, help="Seconds each check may take."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Check the health of Docker, the containers, MySQL, Redis and the search engine.

    Every check runs in parallel with its own timeout and changes nothing. Exit
    code 0 when all pass, 14 when there are only warnings, 18 when a check failed.
    """
    from ticketctl.doctor.core import all_checks, run_checks, select_checks

    settings = load(ctx)
    if list_checks:
        selected = select_checks(all_checks(settings), checks or [])
        if json_output:
            print_json([{"name": c.name, "description": c.description, "needs": list(c.needs)} for c in selected])
        else:
            width = max(len(c.name) for c in selected)
            for check in selected:
                typer.echo(f"{check.name:<{width}}  {check.description}")
        return
    report = run_checks(settings, secrets_of(settings), names=checks or [], timeout=timeout)
    if json_output:
        print_json(report.as_dict())
    else:
        _print_report(report)
    raise typer.Exit(int(report.exit_code))


def _print_report(report: DoctorReport) -> None:
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    width = max((len(result.name) for result in report.results), default=0)
    group = None
    for result in report.results:
        if result.group != group:
            group = result.group
            typer.echo(typer.style(group, bold=True) if color else group)
        symbol, hue = SYMBOLS[result.status.value]
        mark = typer.style(symbol, fg=hue) if color else symbol
        typer.echo(f"  {mark} {result.name:<{width}}  {result.summary}")
        if result.fix:
            typer.echo(f"    {'':<{width}}  fix: {result.fix}")
    checks = len(report.results)
    problems = report.problems
    noun = "problem" if problems == 1 else "problems"
    typer.echo(f"{problems} {noun} in {checks} checks ({report.seconds:.2f} s)")
