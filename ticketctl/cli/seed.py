"""``ticketctl seed``: sample data in the three databases, with a progress bar per table.

The command parses its options, makes one call to :func:`ticketctl.data.seed.seed`
and prints the summary (or ``--json``). Deleting what is there (``--replace``,
``--replace-all``) asks on a terminal; ``--yes`` agrees in scripts.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import typer

from ticketctl.cli.common import (
    JSON_OPTION,
    confirmer,
    console,
    load_with_secrets,
    print_json,
    print_warning,
    progress_bars,
)
from ticketctl.errors import ConfigError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ticketctl.data.seed import SeedResult
    from ticketctl.events import Event


def seed_command(
    ctx: typer.Context,
    seed: int = typer.Option(
        1, "--seed", metavar="N", help="Random seed: the same N (and --start) gives the same rows."
    ),
    events: int = typer.Option(100, "--events", metavar="N", help="Events to make."),
    seats_per_event: int = typer.Option(500, "--seats-per-event", metavar="M", help="Seats of each event."),
    start: str = typer.Option(
        None, "--start", metavar="YYYY-MM-DD", help="The day the data describes; events follow it (default: today)."
    ),
    booked: float = typer.Option(0.15, "--booked", metavar="SHARE", help="Share of the seats on sale that are booked."),
    reserved: float = typer.Option(
        0.03, "--reserved", metavar="SHARE", help="Share of the seats on sale held by an active reservation."
    ),
    replace: bool = typer.Option(False, "--replace", help="Delete the previous seed's rows first (asks)."),
    replace_all: bool = typer.Option(
        False, "--replace-all", help="Delete every row of the tables seed fills first, its own or not (asks)."
    ),
    method: str = typer.Option(
        "auto",
        "--method",
        metavar="METHOD",
        help="auto (LOAD DATA LOCAL INFILE when the server allows it, else INSERT), load-data or insert.",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before deleting."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Fill events_db, inventory_db and bookings_db with deterministic sample data, bulk-loaded.

    Events in several cities and categories, their pricing rules and seats, reservations,
    bookings with their seats, idempotency keys and payments, and an outbox row per
    event for 'ticketctl index sync'. Refuses tables that hold data unless --replace
    (the previous seed's rows) or --replace-all (every row) says what to do.
    Exit codes: 19 data already there, 16 deletion not confirmed, 13 not migrated, 11 another seed runs.
    """
    from ticketctl.data.sample import SeedOptions
    from ticketctl.data.seed import seed as run_seed

    if replace and replace_all:
        raise ConfigError("--replace and --replace-all: choose one", hint="--replace-all includes --replace")
    if method not in ("auto", "load-data", "insert"):
        raise ConfigError(f"--method: {method!r} is not one of auto, load-data, insert")
    options = SeedOptions(
        seed=seed,
        events=events,
        seats_per_event=seats_per_event,
        start=_parse_start(start),
        booked=booked,
        reserved=reserved,
    )
    settings, secrets = load_with_secrets(ctx)
    with _Progress(quiet=json_output) as progress:
        result = run_seed(
            settings,
            secrets,
            options,
            replace="all" if replace_all else "seed" if replace else "none",
            method=method,  # type: ignore[arg-type]
            confirm=confirmer(yes),
            on_event=progress,
        )
    if json_output:
        print_json(result.as_dict())
    else:
        _print_summary(result)


def _parse_start(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--start: {text!r} is not a date", hint="write it as YYYY-MM-DD, e.g. 2026-12-01") from None


class _Progress:
    """A bar per table on stderr; steps and notices as lines."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: Event) -> None:
        from ticketctl.data.seed import TableProgress
        from ticketctl.events import Notice, StepEvent

        if isinstance(event, Notice):
            if event.level == "warning":
                print_warning(event.message)
            elif not self.quiet:
                console(stderr=True).print(f"[dim]·[/dim] {event.message}")
        elif self.quiet:
            return
        elif isinstance(event, TableProgress):
            self._advance(event)
        elif isinstance(event, StepEvent) and event.status == "started" and self.progress is None:
            detail = f": {event.detail}" if event.detail else ""
            console(stderr=True).print(f"[dim]·[/dim] {event.step}{detail}")

    def _advance(self, event: Any) -> None:
        if self.progress is None:
            self.progress = progress_bars()
        label = f"{event.database}.{event.table}"
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=event.total)
        self.progress.update(self.tasks[label], completed=event.done, total=event.total)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.progress is not None:
            for task in self.progress.tasks:
                if task.total is None:
                    self.progress.update(task.id, total=task.completed)
            self.progress.stop()


def _print_summary(result: SeedResult) -> None:
    for name, count in result.cleared.items():
        typer.echo(f"Deleted {count} rows from {name}")
    width = max(len(f"{table.database}.{table.table}") for table in result.tables)
    for table in result.tables:
        typer.echo(f"{table.database + '.' + table.table:<{width}}  {table.rows:>10,} rows")
    options = result.options
    typer.echo(
        f"Seeded {result.rows:,} rows in {result.seconds:.1f}s ({result.rows_per_second:,.0f} rows/s, "
        f"{result.method}): {options.events} events × {options.seats_per_event} seats, seed {options.seed}, "
        f"start {options.start}"
    )
    typer.echo("Next: 'ticketctl index sync' indexes the events (their outbox rows are unprocessed)")
