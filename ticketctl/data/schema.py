"""Is a database migrated far enough for ``seed`` and ``index sync``? Checked before any write.

The check reads ``information_schema`` for the tables and columns the command uses,
rather than the migration history: a schema migrated by another tool passes when it
has them, and the error names the first missing column and the version that adds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ticketctl.errors import ExitCode, TicketctlError

if TYPE_CHECKING:
    from ticketctl.clients.mysql import Session

# Columns added after V001, with the migration that adds them (for the hint).
ADDED_BY = {
    ("events", "city"): "V002",
    ("events", "category"): "V002",
    ("events", "description"): "V002",
    ("events", "tags"): "V002",
}


class NotMigratedError(TicketctlError):
    """A table or column the command needs is missing: migrations are pending."""

    exit_code = ExitCode.PENDING


def require_columns(session: Session, database: str, needed: Mapping[str, Sequence[str]]) -> None:
    """Raise :class:`NotMigratedError` unless every table of ``needed`` has its columns."""
    rows = session.query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s", (database,)
    )
    present: dict[str, set[str]] = {}
    for table, column in rows:
        present.setdefault(str(table).lower(), set()).add(str(column).lower())
    for table, columns in needed.items():
        if table not in present:
            raise NotMigratedError(
                f"{database}: table {table} does not exist: the database is not migrated",
                hint="run 'ticketctl migrate' (or 'ticketctl up', which migrates)",
            )
        for column in columns:
            if column.lower() not in present[table]:
                version = ADDED_BY.get((table, column), "a pending migration")
                raise NotMigratedError(
                    f"{database}: column {table}.{column} does not exist: {version} is not applied",
                    hint="run 'ticketctl migrate' ('ticketctl migrate status' lists what is pending)",
                )
