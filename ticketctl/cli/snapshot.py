"""``ticketctl snapshot save|restore|list|rm``: the stack's data, saved and put back together."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from ticketctl.cli.common import JSON_OPTION, confirmer, console, load, load_with_secrets, print_json
from ticketctl.cli.stack import LOCK_TIMEOUT_OPTION, _duration, connect

if TYPE_CHECKING:
    from ticketctl.events import Event

app = typer.Typer(
    name="snapshot",
    help="Save the three databases, Redis and the search index together, and put them back in seconds.",
    no_args_is_help=True,
)


class StepPrinter:
    """Draws the core's step events: one line per step on stderr, with the time since the start (none with --json)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.started = time.monotonic()
        self.out = console(stderr=True) if sys.stderr.isatty() and not quiet else None

    def __call__(self, event: Event) -> None:
        from ticketctl.events import Notice, StepEvent

        if isinstance(event, Notice):
            if event.level == "warning" or not self.quiet:
                self._line(f"{event.level}: {event.message}")
        elif isinstance(event, StepEvent) and not self.quiet:
            detail = f" ({event.detail})" if event.detail else ""
            self._line(f"[{time.monotonic() - self.started:6.1f}s] {event.step}: {event.status}{detail}")

    def _line(self, text: str) -> None:
        if self.out is not None:
            self.out.print(text, highlight=False, markup=False)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()


def _on_stack(ctx: typer.Context, verb: Callable[..., Any], json_output: bool, /, *args: Any, **options: Any) -> Any:
    """Call a snapshot verb on this stack: its settings, the Engine, the secrets in effect, steps on stderr."""
    settings, secrets = load_with_secrets(ctx)
    return verb(settings, connect(settings), secrets, *args, on_event=StepPrinter(json_output), **options)


@app.command("save")
def save_command(
    ctx: typer.Context,
    name: str = typer.Argument(None, help="Name of the snapshot (default: the time, YYYYMMDD-HHMMSS)."),
    include_secrets: bool = typer.Option(
        False, "--include-secrets", help="Also keep a copy of .env in the snapshot (the folder is private: 0700/0600)."
    ),
    lock_timeout: float = LOCK_TIMEOUT_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Take a snapshot of the running stack: MySQL's volume (server stopped for seconds), Redis keys, the index."""
    from ticketctl.snapshot import save

    report = _on_stack(ctx, save, json_output, name=name, include_secrets=include_secrets, lock_timeout=lock_timeout)
    if json_output:
        print_json(report.as_dict())
        return
    manifest = report.manifest
    typer.echo(
        f"snapshot {manifest.name} saved in {manifest.seconds:.1f}s: {_size(manifest.size)}, "
        f"{manifest.index.get('documents', 0)} document(s), {manifest.redis.get('keys', 0)} Redis key(s) "
        f"→ {report.path}"
    )


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The snapshot to restore (`ticketctl snapshot list`)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing the stack's data."),
    no_backup: bool = typer.Option(
        False, "--no-backup", help="Do not take a safety snapshot of the current data first."
    ),
    lock_timeout: float = LOCK_TIMEOUT_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Replace the stack's data with a snapshot; a safety snapshot of the current data is taken first."""
    from ticketctl.snapshot import restore

    report = _on_stack(
        ctx, restore, json_output, name, backup=not no_backup, confirm=confirmer(yes), lock_timeout=lock_timeout
    )
    if json_output:
        print_json(report.as_dict())
        return
    safety = f"; the data before it is in snapshot {report.safety}" if report.safety else ""
    typer.echo(f"restored snapshot {name} ({report.snapshot.created_at}) in {report.seconds:.1f}s{safety}")


@app.command("list")
def list_command(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """List the snapshots with their age and size; incomplete ones (an interrupted save) are marked."""
    from ticketctl.snapshot import list_snapshots

    settings = load(ctx)
    rows = list_snapshots(settings)
    now = datetime.now(UTC)
    if json_output:
        print_json({"folder": str(settings.snapshots_dir), "snapshots": [row.as_dict(now) for row in rows]})
        return
    if not rows:
        typer.echo(f"no snapshots in {settings.snapshots_dir}; take one with `ticketctl snapshot save`")
        return
    from rich.table import Table

    table = Table("name", "age", "size", "state", "schema", "note", box=None, header_style="bold")
    for row in rows:
        data = row.as_dict(now)
        schema = ", ".join(f"{db}:V{version:03d}" for db, version in (data["schema_versions"] or {}).items())
        note = row.reason or (f"safety copy before restoring {data['safety_for']}" if data["safety_for"] else "")
        table.add_row(row.name, _duration(data["age_seconds"]), _size(row.size), row.state, schema, note)
    wide = console()
    if not wide.is_terminal:
        wide.width = 200
    wide.print(table)


@app.command("rm")
def rm_command(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., help="Snapshots to delete."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Delete snapshots (also the leftovers of an interrupted save, by the name `list` shows)."""
    from ticketctl.snapshot import remove

    settings = load(ctx)
    removed = [str(remove(settings, name)) for name in names]
    if json_output:
        print_json({"removed": removed})
        return
    for path in removed:
        typer.echo(f"removed {path}")


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return f"{size} B"
