"""Schema migrations of the three databases: discover, checksum, plan, lock, apply, record.

The public API, called by ``ticketctl migrate`` and by ``ticketctl up`` once the
stack is healthy::

    from ticketctl.migrations import migrate
    report = migrate(settings, secrets, on_event=print)

Every verb takes the settings and secrets explicitly, emits progress to an
optional ``on_event`` callback, and returns a report with ``as_dict()``. Names
load lazily, so that ``migrate`` does not pay for the linter's word lists. (The
linter is ``lint_migrations``: ``ticketctl.migrations.lint`` is its module.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ticketctl.migrations.lint import LintFinding, LintReport, lint_migrations, lint_paths
    from ticketctl.migrations.reports import (
        BaselineReport,
        DatabaseResult,
        DatabaseStatus,
        MigrateReport,
        MigrationEvent,
        RepairReport,
        StatusReport,
    )
    from ticketctl.migrations.runner import (
        baseline,
        ensure_users,
        migrate,
        plan,
        repair,
        select_databases,
        status,
    )

_EXPORTS = {
    "migrate": "runner",
    "ensure_users": "runner",
    "status": "runner",
    "plan": "runner",
    "repair": "runner",
    "baseline": "runner",
    "select_databases": "runner",
    "lint_migrations": "lint",
    "lint_paths": "lint",
    "LintFinding": "lint",
    "LintReport": "lint",
    "BaselineReport": "reports",
    "DatabaseResult": "reports",
    "DatabaseStatus": "reports",
    "MigrateReport": "reports",
    "MigrationEvent": "reports",
    "RepairReport": "reports",
    "StatusReport": "reports",
}

__all__ = [
    "BaselineReport",
    "DatabaseResult",
    "DatabaseStatus",
    "LintFinding",
    "LintReport",
    "MigrateReport",
    "MigrationEvent",
    "RepairReport",
    "StatusReport",
    "baseline",
    "ensure_users",
    "lint_migrations",
    "lint_paths",
    "migrate",
    "plan",
    "repair",
    "select_databases",
    "status",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ticketctl.migrations' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"ticketctl.migrations.{module}"), name)
