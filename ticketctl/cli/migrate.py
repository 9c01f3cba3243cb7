"""``ticketctl migrate``: apply, inspect, plan, repair, baseline and lint the schema migrations.

Each command parses its options, makes one call into :mod:`ticketctl.migrations`
and draws the result; progress events are drawn as they arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer

from ticketctl.cli.common import JSON_OPTION, console, flag, interruption, load, load_with_secrets, print_json
from ticketctl.cli.options import GroupedTyper, group
from ticketctl.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from ticketctl.events import Event
    from ticketctl.migrations import MigrateReport, StatusReport
    from ticketctl.migrations.drift import DriftReport
    from ticketctl.migrations.runner import Selection

app = GroupedTyper(
    name="migrate",
    no_args_is_help=False,
    invoke_without_command=True,
    rich_markup_mode=None,
)


@dataclass(frozen=True)
class MigrationFlags:
    """The flags the migrate commands share: which databases, up to which version, whether out of order, and the
    folder of the files (an option group: see :mod:`ticketctl.cli.options`)."""

    db: Annotated[
        list[str] | None,
        typer.Option(
            None, "--db", metavar="DATABASE", help="Only this database: events, inventory or bookings (repeatable)."
        ),
    ]
    target: Annotated[
        int | None, typer.Option(None, "--target", metavar="VERSION", help="Apply versions up to this one only.")
    ]
    allow_out_of_order: Annotated[
        bool,
        typer.Option(
            False,
            "--allow-out-of-order",
            help="Apply a pending version older than the newest applied one (refused by default).",
        ),
    ]
    schemas_dir: Annotated[
        Path | None,
        typer.Option(
            None,
            "--schemas-dir",
            metavar="DIR",
            help="Folder with events/, inventory/ and bookings/ migrations (setting schemas_dir; default: the "
            "packaged schemas).",
        ),
    ]

    def selection(self) -> Selection:
        """--db, --target and --allow-out-of-order as the selection of migrate, status and plan."""
        return {"databases": self.db, "target": self.target, "allow_out_of_order": self.allow_out_of_order}

    def overrides(self) -> dict[str, tuple[object, str]]:
        """--schemas-dir as the schemas_dir setting (relative to the working directory)."""
        return {"schemas_dir": flag(str(self.schemas_dir.resolve()) if self.schemas_dir else None, "--schemas-dir")}


EVERY_FLAG = group(MigrationFlags)
DATABASES_AND_FILES = group(MigrationFlags, without=("target", "allow_out_of_order"))
DATABASES_ONLY = group(MigrationFlags, without=("target", "allow_out_of_order", "schemas_dir"))


@app.callback()
def migrate_command(
    ctx: typer.Context,
    flags: MigrationFlags = EVERY_FLAG,
    sync_users: bool = typer.Option(
        False,
        "--sync-users",
        help="As mysql.root_user, also give an application user that refuses its password the one in "
        ".env or the environment (after a rotation; the Kubernetes setup Job does this).",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Apply the pending migrations of events_db, inventory_db and bookings_db, the three in parallel.

    Each version runs once; a failed one resumes at its failed statement once the file is fixed.
    An application user that does not exist is created as mysql.root_user (MYSQL_ROOT_PASSWORD).
    Exit codes: 0 applied or up to date, 7 database error, 8 migration refused or
    failed (file:line named), 11 another migrate holds the lock, 3 invalid files.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ticketctl.migrations import migrate

    settings, secrets = load_with_secrets(ctx, flags.overrides(), changes=True)
    renderer = None if json_output else _EventPrinter()
    selection = flags.selection()
    report = migrate(settings, secrets, on_event=renderer, check=False, sync_users=sync_users, **selection)
    if json_output:
        print_json(report.as_dict())
    else:
        _print_migrate_summary(report)
    report.raise_first_error()


@app.command("status")
def status_command(
    ctx: typer.Context,
    flags: MigrationFlags = EVERY_FLAG,
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit 13 when versions are pending and 8 when migrate would refuse (for CI)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Show every version of each database: applied, pending, failed, changed, missing. Changes nothing."""
    from ticketctl.migrations import status

    settings, secrets = load_with_secrets(ctx, flags.overrides())
    report = status(settings, secrets, **flags.selection())
    if json_output:
        print_json(report.as_dict())
    else:
        _print_status(report)
    if exit_code:
        if report.problem_count:
            raise typer.Exit(int(ExitCode.MIGRATION))
        if report.pending_count:
            raise typer.Exit(int(ExitCode.PENDING))


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    flags: MigrationFlags = EVERY_FLAG,
    json_output: bool = JSON_OPTION,
) -> None:
    """Print the SQL that migrate would run, statement by statement, marking those that commit implicitly."""
    from ticketctl.migrations import plan

    settings, secrets = load_with_secrets(ctx, flags.overrides())
    report = plan(settings, secrets, **flags.selection())
    if json_output:
        print_json(report.as_dict(statements=True))
    else:
        _print_plan(report)


@app.command("drift")
def drift_command(
    ctx: typer.Context,
    flags: MigrationFlags = DATABASES_AND_FILES,
    json_output: bool = JSON_OPTION,
) -> None:
    """Compare each database's live schema with the schema its applied migrations produce.

    The expected schema comes from running the applied migrations on a throwaway database
    ticketctl_shadow_<db>_<time>_<random> on the same server (created as the database's user if
    it may, else as mysql.root_user, and always dropped again); tables, columns (type, NULL,
    default), indexes, unique and foreign keys, checks, views and triggers are compared through
    information_schema. Live data is never touched. Exit codes: 0 no drift, 10 drift, 7 MySQL
    unreachable or the right to create the shadow database missing (named), 8 history or files
    that cannot be reproduced.
    """
    from ticketctl.migrations.drift import drift

    settings, secrets = load_with_secrets(ctx)
    with drift_interruption("migrate drift"):
        report = drift(settings, secrets, databases=flags.db, schemas_dir=flags.schemas_dir)
    if json_output:
        print_json(report.as_dict())
    else:
        _print_drift(report)
    if report.first_error is not None:
        raise report.first_error
    if report.drifted:
        raise typer.Exit(int(ExitCode.DRIFT))


@app.command("repair")
def repair_command(
    ctx: typer.Context,
    flags: MigrationFlags = DATABASES_AND_FILES,
    json_output: bool = JSON_OPTION,
) -> None:
    """Accept edited files after review: record their new checksums; let a failed version resume or retry."""
    from ticketctl.migrations import repair

    settings, secrets = load_with_secrets(ctx, flags.overrides(), changes=True)
    report = repair(settings, secrets, databases=flags.db)
    if json_output:
        print_json(report.as_dict())
        return
    out = console()
    for database in report.databases:
        if not database.actions:
            out.print(f"{database.name}: nothing to repair")
        for action in database.actions:
            out.print(f"{database.name}: {action.detail}")


@app.command("baseline")
def baseline_command(
    ctx: typer.Context,
    flags: MigrationFlags = DATABASES_ONLY,
    version: int = typer.Option(1, "--version", help="The version the existing schema corresponds to."),
    description: str = typer.Option("baseline", "--description", help="Recorded in the history."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Adopt existing databases: record VERSION as present, so that only later versions are applied."""
    from ticketctl.migrations import baseline

    settings, secrets = load_with_secrets(ctx, changes=True)
    report = baseline(settings, secrets, databases=flags.db, version=version, description=description)
    if json_output:
        print_json(report.as_dict())
        return
    for result in report.databases:
        console().print(f"{result.name}: baselined at V{result.version:03d} ({result.description})")


@app.command("lint")
def lint_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, help="Files or folders to check (default: every migration)."),
    flags: MigrationFlags = DATABASES_AND_FILES,
    server: str = typer.Option("both", "--server", help="Reserved words of: mysql (8.0/8.4), mariadb (10.11) or both."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Check migration files offline: reserved words, zero dates, ENGINE/charset, server-only syntax.

    Exits 3 when anything is found.
    """
    from ticketctl.migrations import lint_migrations

    servers = {"both": ("mysql", "mariadb"), "mysql": ("mysql",), "mariadb": ("mariadb",)}.get(server)
    if servers is None:
        raise typer.BadParameter(f"unknown server {server!r}; use mysql, mariadb or both", param_hint="--server")
    settings = load(ctx, flags.overrides())
    report = lint_migrations(paths or None, settings=settings, databases=flags.db, servers=servers)
    if json_output:
        print_json(report.as_dict())
    else:
        for finding in report.findings:
            typer.echo(f"{finding.where}: {finding.rule}: {finding.message}")
        if report.ok:
            typer.echo(f"{len(report.files)} file(s) checked, no findings")
    if not report.ok:
        files = len({finding.path for finding in report.findings})
        raise ConfigError(
            f"migrate lint: {len(report.findings)} finding(s) in {files} file(s)",
            hint="fix each file:line listed; 'ticketctl migrate lint --help' explains the rules",
        )


# --------------------------------------------------------------------------- rendering


class _EventPrinter:
    """Draws migration events as they arrive, one line each."""

    _STYLES: ClassVar[dict[str, str]] = {
        "created": "green",
        "lock-wait": "yellow",
        "up-to-date": "dim",
        "apply": "bold",
        "statement": "dim",
        "applied": "green",
        "failed": "red",
        "warning": "yellow",
    }

    def __init__(self) -> None:
        self._console = console()

    def __call__(self, event: Event) -> None:
        from ticketctl.migrations import MigrationEvent

        if not isinstance(event, MigrationEvent) or event.kind not in self._STYLES:
            return
        prefix = f"{event.database:<9} "
        text = f"  {event.statement}/{event.total} {event.message}" if event.kind == "statement" else event.message
        self._console.print(prefix + text, style=self._STYLES[event.kind], markup=False, soft_wrap=True)


def _print_migrate_summary(report: MigrateReport) -> None:
    applied = report.applied_count
    verb = f"applied {applied} migration(s)" if applied else "nothing to apply"
    failed = [database.name for database in report.databases if not database.ok]
    suffix = f"; failed: {', '.join(failed)}" if failed else ""
    console().print(f"{verb} in {report.duration_ms} ms{suffix}", markup=False)


def _print_status(report: StatusReport) -> None:
    from rich.table import Table

    out = console()
    for database in report.databases:
        server = database.server or "not created yet"
        out.print(f"[bold]{database.name}[/bold] ({database.key}, {server})")
        table = Table("version", "description", "state", "statements", "installed", "detail", box=None)
        for state in database.states:
            table.add_row(
                f"V{state.version:03d}",
                state.description,
                state.state,
                f"{state.statements_applied}/{state.statements_total}",
                state.installed_on or "",
                state.detail,
            )
        out.print(table)
        for warning in database.plan.warnings:
            out.print(f"  warning: {warning}", style="yellow", markup=False)
        for problem in database.problems:
            out.print(f"  refused: {problem.message}", style="red", markup=False)
            out.print(f"    fix: {problem.hint}", markup=False)
    summary = (
        "up to date" if report.up_to_date else f"{report.pending_count} pending, {report.problem_count} problem(s)"
    )
    out.print(summary, markup=False)


def _print_plan(report: StatusReport) -> None:
    from ticketctl.migrations.planner import causes_implicit_commit

    out = console()
    for database in report.databases:
        if not database.pending and not database.problems:
            out.print(f"{database.name}: nothing to apply", markup=False)
        for problem in database.problems:
            out.print(f"{database.name}: refused: {problem.message}", style="red", markup=False)
        for step in database.pending:
            migration = step.migration
            where = f" (resumes at statement {step.start})" if step.start > 1 else ""
            out.print(f"[bold]{database.name} {migration.label} {migration.description}{where}[/bold]")
            for statement in step.statements:
                tag = "implicit commit" if causes_implicit_commit(statement) else "transactional"
                out.print(f"-- {migration.where(statement)}  [{tag}]", style="dim", markup=False)
                out.print(statement.text + ";", markup=False, highlight=False)


def drift_interruption(command: str) -> AbstractContextManager[None]:
    """A Ctrl-C of a command that compares schemas: its shadow databases went with the run."""
    return interruption(
        command,
        "its shadow databases were dropped on the way out (a leftover of a second interrupt is dropped by a later run)",
        f"run `ticketctl {command}` again",
    )


def _print_drift(report: DriftReport) -> None:
    out = console()
    for database in report.databases:
        server = f" ({database.server})" if database.server else ""
        if database.error is not None:
            out.print(
                f"{database.name}{server}: not checked: {database.error.message}",
                style="red",
                markup=False,
                soft_wrap=True,
            )
            continue
        if not database.drifted:
            applied = f" ({', '.join(database.applied)})" if database.applied else ""
            out.print(f"{database.name}{server}: matches its applied migrations{applied}", markup=False, soft_wrap=True)
        else:
            out.print(
                f"{database.name}{server}: {len(database.differences)} difference(s)",
                style="bold",
                markup=False,
                soft_wrap=True,
            )
            for difference in database.differences:
                out.print(f"  {difference.describe()}", style="red", markup=False, soft_wrap=True)
            out.print(f"  fix: {database.fix}", markup=False, soft_wrap=True)
        for note in database.notes:
            out.print(f"  note: {note}", style="dim", markup=False, soft_wrap=True)
    for name in report.cleaned:
        out.print(
            f"dropped {name}, a shadow database left by an interrupted run", style="dim", markup=False, soft_wrap=True
        )
    verdict = "drift found" if report.drifted else "no drift"
    out.print(f"{verdict} in {report.seconds:.2f}s", markup=False, soft_wrap=True)
