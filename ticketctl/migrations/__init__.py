"""Schema migrations of the three databases: discover, checksum, plan, lock, apply, record.

The public API, called by ``ticketctl migrate`` and by ``ticketctl up`` once the
stack is healthy::

    from ticketctl.migrations import migrate
    report = migrate(settings, secrets, on_event=print)

Every verb takes the settings and secrets explicitly, emits progress to an
optional ``on_event`` callback, and returns a report with ``as_dict()``.
"""

from __future__ import annotations

from ticketctl.migrations.lint import LintFinding, LintReport, lint_paths
from ticketctl.migrations.reports import (
    BaselineReport,
    DatabaseResult,
    DatabaseStatus,
    EventCallback,
    MigrateReport,
    MigrationEvent,
    RepairReport,
    StatusReport,
)
from ticketctl.migrations.runner import baseline, migrate, plan, repair, select_databases, status

__all__ = [
    "BaselineReport",
    "DatabaseResult",
    "DatabaseStatus",
    "EventCallback",
    "LintFinding",
    "LintReport",
    "MigrateReport",
    "MigrationEvent",
    "RepairReport",
    "StatusReport",
    "baseline",
    "lint",
    "lint_paths",
    "migrate",
    "plan",
    "repair",
    "select_databases",
    "status",
]


def lint(
    paths: list[str] | None = None,
    *,
    schemas_dir: str | None = None,
    databases: list[str] | None = None,
    servers: tuple[str, ...] = ("mysql", "mariadb"),
) -> LintReport:
    """Lint files or folders; by default every migration of the selected databases (all by default)."""
    from pathlib import Path

    from ticketctl.resources import schemas_dir as packaged_schemas

    if paths:
        return lint_paths([Path(path) for path in paths], servers=servers)
    folder = Path(schemas_dir) if schemas_dir else packaged_schemas()
    keys = databases or ["events", "inventory", "bookings"]
    return lint_paths([folder / key for key in keys if (folder / key).is_dir()], servers=servers)
