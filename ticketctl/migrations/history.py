"""The history table: one row per version applied (or failing) in each database.

``ticketctl_schema_history`` lives in the database it describes, so progress
updates commit in the same transaction as a migration's DML. A version has one
row, updated in place: ``running`` while it is applied, ``success`` when done,
``failed`` with the failing statement and its ``file:line`` when a statement
failed. ``statements_applied`` and ``applied_checksum`` (the checksum of those
statements) say exactly which part of the file the database already holds.

While a ``running`` version executes a statement that commits by itself (DDL),
``failed_statement`` and ``failed_at`` name that statement (it is "in flight"):
if the process dies then, the server may still finish the statement, so a
later run cannot know whether it took effect and must not simply run it again.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from ticketctl import __version__
from ticketctl.clients.mysql import ER_BAD_DB, ER_NO_SUCH_TABLE, ServerError, Session, quote_identifier

HISTORY_TABLE = "ticketctl_schema_history"

SUCCESS = "success"
FAILED = "failed"
RUNNING = "running"
TYPE_SQL = "SQL"
TYPE_BASELINE = "BASELINE"

CREATE_HISTORY_TABLE = f"""
CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
    installed_rank INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    version INT NOT NULL,
    description VARCHAR(200) NOT NULL,
    type VARCHAR(20) NOT NULL,
    script VARCHAR(1000) NOT NULL,
    checksum CHAR(64) NULL,
    applied_checksum CHAR(64) NULL,
    statements_applied INT NOT NULL DEFAULT 0,
    statements_total INT NOT NULL DEFAULT 0,
    status VARCHAR(10) NOT NULL,
    out_of_order BOOLEAN NOT NULL DEFAULT FALSE,
    error TEXT NULL,
    failed_statement TEXT NULL,
    failed_at VARCHAR(1100) NULL,
    installed_by VARCHAR(300) NOT NULL,
    host VARCHAR(255) NOT NULL,
    tool_version VARCHAR(50) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6) NULL,
    duration_ms INT NULL,
    UNIQUE KEY uk_version (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""

MAX_STATEMENT_CHARS = 4000


@dataclass(frozen=True)
class HistoryRow:
    """One version's record in a database."""

    version: int
    description: str
    type: str
    script: str
    checksum: str | None
    applied_checksum: str | None
    statements_applied: int
    statements_total: int
    status: str
    out_of_order: bool
    error: str | None
    failed_statement: str | None
    failed_at: str | None
    installed_by: str
    host: str
    tool_version: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None

    @property
    def is_baseline(self) -> bool:
        return self.type == TYPE_BASELINE

    @property
    def in_flight(self) -> bool:
        """The run died while a statement that commits by itself was executing (see the module doc)."""
        return self.status == RUNNING and self.failed_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "description": self.description,
            "type": self.type,
            "script": self.script,
            "checksum": self.checksum,
            "status": self.status,
            "statements_applied": self.statements_applied,
            "statements_total": self.statements_total,
            "out_of_order": self.out_of_order,
            "error": self.error,
            "failed_at": self.failed_at,
            "installed_by": self.installed_by,
            "host": self.host,
            "tool_version": self.tool_version,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_ms": self.duration_ms,
        }


# The table's columns that a row reads, in HistoryRow's order (installed_rank is the table's own).
_FIELDS = tuple(item.name for item in fields(HistoryRow))
_COLUMNS = ", ".join(_FIELDS)


def read_history(session: Session) -> list[HistoryRow] | None:
    """Every row, by version; None when the table does not exist yet."""
    try:
        rows = session.query(f"SELECT {_COLUMNS} FROM {HISTORY_TABLE} ORDER BY version")
    except ServerError as error:
        if error.errno == ER_NO_SUCH_TABLE:
            return None
        raise
    return [_row(values) for values in rows]


def applied_version(session: Session, database: str | None = None) -> int:
    """The highest successfully applied version (of ``database``, else the session's); 0 when nothing is applied.

    What a snapshot records and what doctor compares it with: a restore of an older one rolls the schema back.
    """
    table = f"{quote_identifier(database)}.{HISTORY_TABLE}" if database else HISTORY_TABLE
    try:
        row = session.query_one(f"SELECT COALESCE(MAX(version), 0) FROM {table} WHERE status = 'success'")
    except ServerError as error:
        if error.errno in (ER_NO_SUCH_TABLE, ER_BAD_DB):
            return 0
        raise
    return int(row[0]) if row else 0


def _row(values: tuple[Any, ...]) -> HistoryRow:
    row = dict(zip(_FIELDS, values, strict=True))
    for name in ("version", "statements_applied", "statements_total"):
        row[name] = int(row[name])
    row["out_of_order"] = bool(row["out_of_order"])
    if row["duration_ms"] is not None:
        row["duration_ms"] = int(row["duration_ms"])
    return HistoryRow(**row)


def create_history_table(session: Session) -> None:
    session.execute(CREATE_HISTORY_TABLE)


def count_other_tables(session: Session) -> int:
    """Tables in the current database other than the history table (adopting needs a baseline)."""
    row = session.query_one(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> %s",
        (HISTORY_TABLE,),
    )
    return int(row[0]) if row else 0


def start_version(
    session: Session,
    *,
    version: int,
    description: str,
    script: str,
    checksum: str,
    applied_checksum: str,
    statements_applied: int,
    statements_total: int,
    out_of_order: bool,
    resume: bool,
) -> None:
    """Insert the version's row as ``running``, or reset a failed/interrupted one; the caller commits."""
    values: dict[str, object] = {
        "description": description[:200],
        "script": script[:1000],
        "checksum": checksum,
        "applied_checksum": applied_checksum,
        "statements_applied": statements_applied,
        "statements_total": statements_total,
        "status": RUNNING,
        "host": _host(),
        "tool_version": __version__,
    }
    if resume:
        assignments = [f"{column} = %s" for column in values]
        assignments += [f"{column} = {expression}" for column, expression in _STARTED.items()]
        sql = f"UPDATE {HISTORY_TABLE} SET {', '.join(assignments)} WHERE version = %s"
        session.execute(sql, (*values.values(), version))
        return
    values = {"version": version, "type": TYPE_SQL, "out_of_order": out_of_order, **values}
    columns = ", ".join([*values, *_STARTED])
    placeholders = ", ".join(["%s"] * len(values) + list(_STARTED.values()))
    session.execute(f"INSERT INTO {HISTORY_TABLE} ({columns}) VALUES ({placeholders})", tuple(values.values()))


# What a started (or restarted) version's row gets from the server rather than from parameters.
_STARTED = {
    "error": "NULL",
    "failed_statement": "NULL",
    "failed_at": "NULL",
    "installed_by": "CURRENT_USER()",
    "started_at": "NOW(6)",
    "finished_at": "NULL",
    "duration_ms": "NULL",
}


def mark_in_flight(session: Session, version: int, statement: str, at: str) -> None:
    """Before a statement that commits by itself: name it, so that a run dying in it is known; the caller commits."""
    session.execute(
        f"UPDATE {HISTORY_TABLE} SET failed_statement = %s, failed_at = %s WHERE version = %s",
        (statement[:MAX_STATEMENT_CHARS], at[:1100], version),
    )


def clear_in_flight(session: Session, version: int) -> None:
    """The in-flight statement was checked by hand and will run again; the caller commits."""
    session.execute(
        f"UPDATE {HISTORY_TABLE} SET failed_statement = NULL, failed_at = NULL WHERE version = %s AND status = %s",
        (version, RUNNING),
    )


def record_progress(session: Session, version: int, statements_applied: int, applied_checksum: str) -> None:
    """After each statement, in the same transaction as a DML statement; the caller commits.

    Clears the in-flight mark: the statement is recorded as applied.
    """
    session.execute(
        f"UPDATE {HISTORY_TABLE} SET statements_applied = %s, applied_checksum = %s, failed_statement = NULL, "
        "failed_at = NULL WHERE version = %s",
        (statements_applied, applied_checksum, version),
    )


def record_success(session: Session, version: int, duration_ms: int) -> None:
    session.execute(
        f"UPDATE {HISTORY_TABLE} SET status = %s, finished_at = NOW(6), duration_ms = %s WHERE version = %s",
        (SUCCESS, duration_ms, version),
    )


def record_failure(
    session: Session,
    *,
    version: int,
    statements_applied: int,
    applied_checksum: str,
    error: str,
    statement: str,
    failed_at: str,
    duration_ms: int,
) -> None:
    session.execute(
        f"UPDATE {HISTORY_TABLE} SET status = %s, statements_applied = %s, applied_checksum = %s, error = %s, "
        "failed_statement = %s, failed_at = %s, finished_at = NOW(6), duration_ms = %s WHERE version = %s",
        (
            FAILED,
            statements_applied,
            applied_checksum,
            error[:MAX_STATEMENT_CHARS],
            statement[:MAX_STATEMENT_CHARS],
            failed_at[:1100],
            duration_ms,
            version,
        ),
    )


def record_baseline(session: Session, version: int, description: str) -> None:
    session.execute(
        f"INSERT INTO {HISTORY_TABLE} ({_COLUMNS}) VALUES "
        "(%s, %s, %s, %s, NULL, NULL, 0, 0, %s, FALSE, NULL, NULL, NULL, CURRENT_USER(), %s, %s, "
        "NOW(6), NOW(6), 0)",
        (version, description[:200], TYPE_BASELINE, f"<< {description} >>"[:1000], SUCCESS, _host(), __version__),
    )


def record_repair(
    session: Session,
    *,
    version: int,
    checksum: str | None,
    applied_checksum: str | None,
    statements_total: int,
    description: str,
    script: str,
) -> None:
    """Accept the file as it is now: new checksums (``checksum`` None lets a failed version retry)."""
    session.execute(
        f"UPDATE {HISTORY_TABLE} SET checksum = %s, applied_checksum = %s, statements_total = %s, "
        "description = %s, script = %s WHERE version = %s",
        (checksum, applied_checksum, statements_total, description[:200], script[:1000], version),
    )


def _host() -> str:
    return socket.gethostname()[:255]
