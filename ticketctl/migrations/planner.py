"""Planning: compare a database's migration files with its history, without a server.

:func:`plan_database` is pure: given the files and the history rows it returns
what to apply (each step may resume in the middle of a file), the state of
every version for ``status``, and the problems that stop the database from
migrating at all. The rules:

* an applied file whose normalised checksum changed is refused, naming the
  file and version, until ``repair`` records the new checksum;
* a failed version is refused while the file is unchanged since the failure;
  once it changed, the statements already applied must still be the same
  (``applied_checksum``) and the run resumes at the failed statement;
* a version interrupted while running (the process was killed) resumes where
  its recorded progress stops, under the same check; unless it died during a
  statement that commits by itself (DDL), which the server may have finished
  after the client died: that is refused until ``repair`` records that the
  database was checked by hand;
* a pending file older than the newest recorded version is out of order and
  refused unless ``allow_out_of_order``;
* versions at or below a baseline are taken as already present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ticketctl.migrations.files import MigrationFile
from ticketctl.migrations.history import FAILED, RUNNING, SUCCESS, HistoryRow
from ticketctl.migrations.lexer import Statement

# States of a version in `migrate status`.
APPLIED = "applied"
BASELINE = "baseline"
BELOW_BASELINE = "below-baseline"
PENDING = "pending"
RESUME = "resume"  # failed or interrupted, file fixed: resumes at a statement
FAILED_STATE = "failed"
INTERRUPTED = "interrupted"
CHANGED = "changed"
MISSING = "missing"
OUT_OF_ORDER = "out-of-order"
ABOVE_TARGET = "above-target"

_DDL_FIRST_WORDS = frozenset(
    {
        "ALTER",
        "RENAME",
        "TRUNCATE",
        "GRANT",
        "REVOKE",
        "INSTALL",
        "UNINSTALL",
        "LOCK",
        "UNLOCK",
        "FLUSH",
        "RESET",
        "ANALYZE",
        "OPTIMIZE",
        "REPAIR",
        "CACHE",
        "BEGIN",
        "START",
    }
)


def causes_implicit_commit(statement: Statement) -> bool:
    """True for statements after which MySQL has committed, whatever the transaction.

    DDL (except on TEMPORARY tables), account management, LOCK/UNLOCK TABLES,
    BEGIN/START TRANSACTION and the administrative table statements, as listed
    in the manual's "Statements That Cause an Implicit Commit". Such a statement
    cannot be rolled back, so a migration that fails after it stays half applied.
    """
    words = statement.words
    if not words:
        return False
    first = words[0]
    if first in ("CREATE", "DROP"):
        return len(words) < 2 or words[1] != "TEMPORARY"
    if first == "CHECK":
        return words[1:2] == ["TABLE"]
    if first == "LOAD":
        return words[1:2] == ["INDEX"]
    if first == "SET":
        return words[1:2] == ["PASSWORD"]
    return first in _DDL_FIRST_WORDS


def committed_statements(count: int) -> str:
    """What a failed run left committed, for a fix line: none, statement 1, or statements 1-N."""
    if count <= 0:
        return "none of its statements is committed"
    if count == 1:
        return "statement 1 is committed and will not run again"
    return f"statements 1-{count} are committed and will not run again"


@dataclass(frozen=True)
class Step:
    """One migration to run, from statement ``start`` (1-based) to the end."""

    migration: MigrationFile
    start: int = 1
    resume: bool = False  # a row exists (failed or interrupted) and is updated in place
    out_of_order: bool = False

    @property
    def statements(self) -> tuple[Statement, ...]:
        return self.migration.statements[self.start - 1 :]


@dataclass(frozen=True)
class Problem:
    """Why a database will not migrate: one line, a hint, and the version concerned."""

    kind: str
    version: int
    message: str
    hint: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "message": self.message, "hint": self.hint}


@dataclass(frozen=True)
class VersionState:
    """One version as ``status`` shows it."""

    version: int
    description: str
    script: str
    state: str
    statements_applied: int = 0
    statements_total: int = 0
    installed_on: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "description": self.description,
            "script": self.script,
            "state": self.state,
            "statements_applied": self.statements_applied,
            "statements_total": self.statements_total,
            "installed_on": self.installed_on,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class DatabasePlan:
    steps: tuple[Step, ...]
    problems: tuple[Problem, ...]
    states: tuple[VersionState, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def up_to_date(self) -> bool:
        return not self.steps and not self.problems


def plan_database(
    files: Sequence[MigrationFile],
    history: Sequence[HistoryRow] | None,
    *,
    allow_out_of_order: bool = False,
    target: int | None = None,
) -> DatabasePlan:
    """What ``migrate`` would do to one database, and what stops it."""
    rows = {row.version: row for row in history or ()}
    by_version = {migration.version: migration for migration in files}
    baseline = max((row.version for row in rows.values() if row.is_baseline), default=None)
    newest_recorded = max(rows, default=0)
    steps: list[Step] = []
    problems: list[Problem] = []
    states: dict[int, VersionState] = {}
    warnings: list[str] = []

    for version, row in rows.items():
        migration = by_version.get(version)
        if row.is_baseline:
            states[version] = _state(row, BASELINE, detail="versions up to here were present before ticketctl")
        elif migration is None:
            states[version] = _state(row, MISSING, detail="recorded in the history but its file is gone")
            if row.status == SUCCESS:
                warnings.append(f"V{version:03d} ({row.script}) is recorded as {row.status} but its file is missing")
            else:
                problems.append(_unfinished_without_file(row))
        elif row.status == SUCCESS:
            _check_applied(migration, row, states, problems)
        else:
            _check_unfinished(migration, row, states, problems, steps)

    for version, migration in by_version.items():
        if version in rows:
            continue
        if baseline is not None and version <= baseline:
            states[version] = _file_state(migration, BELOW_BASELINE, "taken as present by the baseline")
        elif version < newest_recorded and not allow_out_of_order:
            states[version] = _file_state(migration, OUT_OF_ORDER, f"older than the recorded V{newest_recorded:03d}")
            problems.append(
                Problem(
                    "out-of-order",
                    version,
                    f"{migration.display}: version {version} is pending but V{newest_recorded:03d} is already "
                    "recorded; applying it now would run it out of order",
                    "renumber the file above the newest version, or pass --allow-out-of-order after checking "
                    "that it does not depend on the order",
                )
            )
        else:
            states[version] = _file_state(migration, PENDING, "")
            steps.append(Step(migration, out_of_order=version < newest_recorded))

    steps.sort(key=lambda step: step.migration.version)
    if target is not None:
        for step in steps:
            if step.migration.version > target:
                states[step.migration.version] = _file_state(step.migration, ABOVE_TARGET, f"above --target {target}")
        steps = [step for step in steps if step.migration.version <= target]
    ordered = tuple(states[version] for version in sorted(states))
    return DatabasePlan(tuple(steps), tuple(problems), ordered, tuple(warnings))


def _check_applied(
    migration: MigrationFile, row: HistoryRow, states: dict[int, VersionState], problems: list[Problem]
) -> None:
    if row.checksum == migration.checksum:
        states[row.version] = _state(row, APPLIED)
        return
    states[row.version] = _state(row, CHANGED, detail="file changed after it was applied")
    problems.append(
        Problem(
            "checksum-mismatch",
            row.version,
            f"{migration.display}: version {row.version} was applied on {_when(row)} but the file has changed since "
            f"(checksum {_short(row.checksum)} recorded, {_short(migration.checksum)} now)",
            "restore the applied file and put the change in a new version; or, once you have checked that the "
            "database matches the edited file, accept it with 'ticketctl migrate repair'",
        )
    )


def _check_unfinished(
    migration: MigrationFile,
    row: HistoryRow,
    states: dict[int, VersionState],
    problems: list[Problem],
    steps: list[Step],
) -> None:
    """A failed or interrupted version: refuse, or resume at its next statement."""
    applied = row.statements_applied
    next_statement = applied + 1
    state = FAILED_STATE if row.status == FAILED else INTERRUPTED
    if migration.prefix_checksum(applied) != row.applied_checksum:
        states[row.version] = _state(row, state, detail="the already-applied statements changed")
        problems.append(
            Problem(
                "applied-part-changed",
                row.version,
                f"{migration.display}: version {row.version} {'failed' if state == FAILED_STATE else 'stopped'} "
                f"after {applied} of {row.statements_total} statements, and those {applied} statements have "
                "changed in the file since; they were committed as they were",
                f"restore statements 1-{applied} as they were and fix only statement {next_statement} on; "
                "or, if the database already matches the edited statements, accept them with "
                "'ticketctl migrate repair'",
            )
        )
        return
    if row.in_flight:
        states[row.version] = _state(
            row, state, detail=f"stopped during statement {next_statement} ({row.failed_at}), which commits by itself"
        )
        problems.append(
            Problem(
                "interrupted-in-flight",
                row.version,
                f"{_where(migration, next_statement)}: version {row.version} was interrupted during statement "
                f"{next_statement} of {row.statements_total}, which commits by itself, so ticketctl cannot tell "
                "whether it took effect",
                f"check the database: undo statement {next_statement} by hand if it took effect, then run "
                f"'ticketctl migrate repair --db {migration.database}' and 'ticketctl migrate': they run it again, "
                "then the rest",
            )
        )
        return
    if row.status == FAILED and row.checksum == migration.checksum:
        states[row.version] = _state(row, state, detail=f"{row.failed_at}: {row.error}")
        problems.append(
            Problem(
                "failed",
                row.version,
                f"{_where(migration, next_statement)}: version {row.version} failed at statement {next_statement} "
                f"of {row.statements_total} and the file is unchanged since: {row.error}",
                f"fix statement {next_statement} ({committed_statements(applied)}), "
                "then run 'ticketctl migrate'; if the failure was transient, 'ticketctl migrate repair' allows a "
                "retry of the unchanged file",
            )
        )
        return
    if next_statement > len(migration.statements):
        states[row.version] = _state(row, state, detail="nothing left to run")
    else:
        states[row.version] = _state(row, RESUME, detail=f"resumes at statement {next_statement}")
    steps.append(Step(migration, start=next_statement, resume=True, out_of_order=row.out_of_order))


def _unfinished_without_file(row: HistoryRow) -> Problem:
    """A failed or interrupted version whose file is not among those read: the database is half migrated."""
    what = "failed" if row.status == FAILED else "stopped"
    return Problem(
        "unfinished-missing",
        row.version,
        f"V{row.version:03d} ({row.script}) {what} at statement {row.statements_applied + 1} of "
        f"{row.statements_total} ({row.error or row.failed_at or 'interrupted'}), and its file is not among the "
        "migrations read",
        "point the schemas_dir setting (or --schemas-dir) at the folder that holds it, fix the statement and run "
        "'ticketctl migrate'",
    )


def _state(row: HistoryRow, state: str, *, detail: str = "") -> VersionState:
    return VersionState(
        version=row.version,
        description=row.description,
        script=row.script,
        state=state,
        statements_applied=row.statements_applied,
        statements_total=row.statements_total,
        installed_on=_when(row) if row.status in (SUCCESS, FAILED, RUNNING) else None,
        detail=detail,
    )


def _file_state(migration: MigrationFile, state: str, detail: str) -> VersionState:
    return VersionState(
        version=migration.version,
        description=migration.description,
        script=migration.script,
        state=state,
        statements_total=len(migration.statements),
        detail=detail,
    )


def _where(migration: MigrationFile, index: int) -> str:
    """``file:line`` of the statement at ``index`` (1-based), or the file when it has fewer."""
    if index <= len(migration.statements):
        return migration.where(migration.statements[index - 1])
    return migration.display


def _when(row: HistoryRow) -> str:
    return row.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if row.started_at else "?"


def _short(checksum: str | None) -> str:
    return checksum[:12] if checksum else "none"
