"""What the migration verbs return, and the events they emit while they run.

Results are these reports, each with ``as_dict()`` for ``--json``; progress is
:class:`MigrationEvent`, one of the :mod:`ticketctl.events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ticketctl.errors import TicketctlError
from ticketctl.events import Event
from ticketctl.migrations.planner import DatabasePlan, Problem, Step, VersionState, causes_implicit_commit

# Event kinds, in the order a database usually sees them.
CONNECTED = "connected"
CREATED = "created"
LOCK_WAIT = "lock-wait"
LOCKED = "locked"
UP_TO_DATE = "up-to-date"
APPLY = "apply"
STATEMENT = "statement"
APPLIED = "applied"
FAILED = "failed"
WARNING = "warning"
BASELINED = "baselined"
REPAIRED = "repaired"

# What migrate did to a database's application user (DatabaseResult.account).
ACCOUNT_CREATED = "created"
ACCOUNT_PASSWORD_SET = "password-set"


@dataclass(frozen=True)
class MigrationEvent(Event):
    """One step of progress in one database."""

    kind: str
    database: str  # the database key: events, inventory or bookings
    message: str
    version: int | None = None
    statement: int | None = None
    total: int | None = None


# --------------------------------------------------------------------------- migrate


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    description: str
    script: str
    first_statement: int  # > 1 when a failed or interrupted version resumed
    statements_run: int
    statements_total: int
    duration_ms: int
    out_of_order: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "description": self.description,
            "script": self.script,
            "first_statement": self.first_statement,
            "statements_run": self.statements_run,
            "statements_total": self.statements_total,
            "duration_ms": self.duration_ms,
            "out_of_order": self.out_of_order,
        }


@dataclass
class DatabaseResult:
    """What ``migrate`` did to one database, or the error that stopped it."""

    key: str
    name: str
    server: str | None = None
    created: bool = False
    # What was done to its application user as mysql.root_user: ACCOUNT_CREATED, ACCOUNT_PASSWORD_SET or nothing.
    account: str | None = None
    applied: list[AppliedMigration] = field(default_factory=list)
    error: TicketctlError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.key,
            "name": self.name,
            "server": self.server,
            "created": self.created,
            "account": self.account,
            "applied": [migration.as_dict() for migration in self.applied],
            "ok": self.ok,
            "error": _error_dict(self.error),
        }


@dataclass(frozen=True)
class MigrateReport:
    databases: tuple[DatabaseResult, ...]
    duration_ms: int

    @property
    def ok(self) -> bool:
        return all(database.ok for database in self.databases)

    @property
    def applied_count(self) -> int:
        return sum(len(database.applied) for database in self.databases)

    @property
    def first_error(self) -> TicketctlError | None:
        return next((database.error for database in self.databases if database.error is not None), None)

    def raise_first_error(self) -> None:
        """Raise the first database's error, if any (the others are in the report)."""
        error = self.first_error
        if error is not None:
            raise error

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "applied": self.applied_count,
            "duration_ms": self.duration_ms,
            "databases": [database.as_dict() for database in self.databases],
        }


# --------------------------------------------------------------------------- status and plan


@dataclass(frozen=True)
class DatabaseStatus:
    """One database's versions, pending steps and problems, as read without changing anything."""

    key: str
    name: str
    server: str | None
    exists: bool
    has_history: bool
    plan: DatabasePlan

    @property
    def pending(self) -> tuple[Step, ...]:
        return self.plan.steps

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.plan.problems

    @property
    def states(self) -> tuple[VersionState, ...]:
        return self.plan.states

    def as_dict(self, *, statements: bool = False) -> dict[str, Any]:
        return {
            "database": self.key,
            "name": self.name,
            "server": self.server,
            "exists": self.exists,
            "history": self.has_history,
            "versions": [state.as_dict() for state in self.states],
            "pending": [_step_dict(step, statements=statements) for step in self.pending],
            "problems": [problem.as_dict() for problem in self.problems],
            "warnings": list(self.plan.warnings),
        }


@dataclass(frozen=True)
class StatusReport:
    databases: tuple[DatabaseStatus, ...]

    @property
    def pending_count(self) -> int:
        return sum(len(database.pending) for database in self.databases)

    @property
    def problem_count(self) -> int:
        return sum(len(database.problems) for database in self.databases)

    @property
    def up_to_date(self) -> bool:
        return self.pending_count == 0 and self.problem_count == 0

    def as_dict(self, *, statements: bool = False) -> dict[str, Any]:
        return {
            "up_to_date": self.up_to_date,
            "pending": self.pending_count,
            "problems": self.problem_count,
            "databases": [database.as_dict(statements=statements) for database in self.databases],
        }


def _step_dict(step: Step, *, statements: bool) -> dict[str, Any]:
    migration = step.migration
    data: dict[str, Any] = {
        "version": migration.version,
        "description": migration.description,
        "script": migration.script,
        "first_statement": step.start,
        "statements_total": len(migration.statements),
        "resume": step.resume,
        "out_of_order": step.out_of_order,
    }
    if statements:
        data["statements"] = [
            {
                "index": statement.index,
                "where": migration.where(statement),
                "implicit_commit": causes_implicit_commit(statement),
                "sql": statement.text,
            }
            for statement in step.statements
        ]
    return data


# --------------------------------------------------------------------------- repair and baseline


@dataclass(frozen=True)
class RepairAction:
    version: int
    script: str
    action: str  # "checksum-accepted" or "failure-accepted"
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "script": self.script, "action": self.action, "detail": self.detail}


@dataclass(frozen=True)
class DatabaseRepair:
    key: str
    name: str
    actions: tuple[RepairAction, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"database": self.key, "name": self.name, "actions": [action.as_dict() for action in self.actions]}


@dataclass(frozen=True)
class RepairReport:
    databases: tuple[DatabaseRepair, ...]

    @property
    def changed(self) -> int:
        return sum(len(database.actions) for database in self.databases)

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "databases": [database.as_dict() for database in self.databases]}


@dataclass(frozen=True)
class BaselineResult:
    key: str
    name: str
    version: int
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {"database": self.key, "name": self.name, "version": self.version, "description": self.description}


@dataclass(frozen=True)
class BaselineReport:
    databases: tuple[BaselineResult, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"databases": [database.as_dict() for database in self.databases]}


def _error_dict(error: TicketctlError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"message": error.message, "hint": error.hint, "exit_code": int(error.exit_code)}
