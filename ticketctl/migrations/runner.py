"""The migration verbs: ``migrate``, ``status``, ``plan``, ``repair`` and ``baseline``.

Each takes the settings and the secrets explicitly, works on the three
databases in parallel (one thread each: they are independent), and returns a
report. Progress goes to ``on_event``; nothing here prints.

How one database migrates (:func:`_migrate_database`):

1. connect as its application user; when that user does not exist, create it
   as ``mysql.root_user`` with ALL on its database only (with ``sync_users``,
   also set the password of one that exists but refuses it); create the
   database when it is missing, as that user if it may, else as the root user.
   A password reaches the server only as the hash it stores, never in SQL text
   (:func:`~ticketctl.clients.mysql.identified_by`);
2. read the history without a lock: when nothing is pending the run ends here,
   so a no-op ``migrate`` costs one connection and one query per database;
3. otherwise take the named lock ``ticketctl_migrate_<database>`` on a session
   of its own (bounded wait; a timeout names the holder), end the transaction
   and read the history again: another process may have migrated meanwhile;
4. apply each pending file statement by statement, recording progress after
   each one (in the same transaction as a DML statement; right after a DDL
   statement, which MySQL has already committed). A failing statement is
   recorded with its ``file:line`` and the next run resumes there.

The lock is held by the session that runs the statements. When the process is
killed, the server goes on with the statement in progress until it ends, and
only then drops the session and its lock: a rerun waits for it instead of
running the same statement beside it. A DDL statement is named in the history
before it runs, so a run killed in it is refused rather than repeated blindly.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypedDict, Unpack

from ticketctl.clients.mysql import (
    CONNECTION_LOST,
    ER_BAD_DB,
    LOGIN_REFUSED,
    SESSION_CHARSET,
    SESSION_COLLATION,
    CreateDenied,
    ServerError,
    Session,
    account_exists,
    app_credentials,
    connect,
    create_account,
    create_database,
    root_credentials,
    set_account_password,
)
from ticketctl.config.settings import DatabaseSettings, Settings
from ticketctl.errors import ConfigError, LockedError, MigrationError, TicketctlError
from ticketctl.events import EventSink, serialised
from ticketctl.migrations import history as hist
from ticketctl.migrations.files import MigrationFile, discover
from ticketctl.migrations.lexer import Statement
from ticketctl.migrations.planner import (
    DatabasePlan,
    Problem,
    Step,
    causes_implicit_commit,
    committed_statements,
    plan_database,
)
from ticketctl.migrations.reports import (
    ACCOUNT_CREATED,
    ACCOUNT_PASSWORD_SET,
    APPLIED,
    APPLY,
    BASELINED,
    CONNECTED,
    CREATED,
    FAILED,
    LOCK_WAIT,
    LOCKED,
    REPAIRED,
    STATEMENT,
    UP_TO_DATE,
    WARNING,
    AppliedMigration,
    BaselineReport,
    BaselineResult,
    DatabaseRepair,
    DatabaseResult,
    DatabaseStatus,
    MigrateReport,
    MigrationEvent,
    RepairAction,
    RepairReport,
    StatusReport,
)
from ticketctl.parallel import fan_out

LOCK_PREFIX = "ticketctl_migrate_"


@dataclass(frozen=True)
class _Context:
    settings: Settings
    secrets: Mapping[str, str]
    emit: EventSink
    target: int | None = None
    allow_out_of_order: bool = False
    sync_users: bool = False
    dry_run: bool = False  # accounts: say what would be done, do none of it
    as_root: frozenset[str] = frozenset()  # database keys read as mysql.root_user (their user is still to be made)


class Selection(TypedDict, total=False):
    """The options ``migrate``, ``status`` and ``plan`` share: which databases (default: all three), up to which
    version (default: the newest), whether a pending version older than an applied one may run, and the folder of
    the files (default: the schemas_dir setting, else the packaged schemas)."""

    databases: Sequence[str] | None
    target: int | None
    allow_out_of_order: bool
    schemas_dir: Path | None


def _selected_files(
    settings: Settings, selection: Selection
) -> tuple[list[DatabaseSettings], dict[str, list[MigrationFile]]]:
    selected = select_databases(settings, selection.get("databases"))
    return selected, discover_all(settings, selected, selection.get("schemas_dir"))


def _versions(selection: Selection) -> tuple[int | None, bool]:
    """The ``target`` and ``allow_out_of_order`` of a selection, in :class:`_Context`'s order."""
    return selection.get("target"), selection.get("allow_out_of_order", False)


# --------------------------------------------------------------------------- public verbs


def migrate(
    settings: Settings,
    secrets: Mapping[str, str],
    *,
    on_event: EventSink | None = None,
    check: bool = True,
    sync_users: bool = False,
    **selection: Unpack[Selection],
) -> MigrateReport:
    """Apply the pending migrations of the selected databases (all three by default), in parallel.

    With ``check`` (the default) the first database's error is raised once every
    database has finished; with ``check=False`` errors stay in the report.
    A missing application user is created as ``mysql.root_user``; with
    ``sync_users`` an existing one that refuses its secret's password gets that
    password (the secrets are the truth: the Kubernetes setup Job after a rotation).
    Without it a refused password stays an error: a typo in ``.env`` must not
    change the password that other clients of the server use.
    """
    started = time.monotonic()
    selected, files = _selected_files(settings, selection)
    context = _Context(settings, secrets, serialised(on_event), *_versions(selection), sync_users)

    def run(database: DatabaseSettings) -> DatabaseResult:
        result = DatabaseResult(database.key, database.name)
        try:
            _migrate_database(context, database, files[database.key], result)
        except TicketctlError as error:
            result.error = error
            context.emit(MigrationEvent(FAILED, database.key, error.message))
        return result

    results = fan_out(run, selected, name="migrate")
    report = MigrateReport(tuple(results), _elapsed_ms(started))
    if check:
        report.raise_first_error()
    return report


def ensure_users(
    settings: Settings,
    secrets: Mapping[str, str],
    *,
    databases: Sequence[str] | None = None,
    sync_users: bool = False,
    on_event: EventSink | None = None,
    dry_run: bool = False,
) -> dict[str, str | None]:
    """Make each application user that cannot log in, as ``migrate`` does, without migrating.

    What ``up --no-init`` runs: the users exist after ``up`` whether or not it
    migrates. Returns database key → what was done to its user (None: nothing).
    ``dry_run`` (``ticketctl plan``) returns what would be done and only reads: a
    login attempt per user and, for a refused one, a ``SELECT`` on ``mysql.user``
    as the root user; it raises where the real run would.
    """
    context = _Context(settings, secrets, serialised(on_event), sync_users=sync_users, dry_run=dry_run)

    def run(database: DatabaseSettings) -> str | None:
        try:
            session = _open_existing(context, database)
        except ServerError as error:
            if not login_refused(error):
                raise
            return _make_account(context, database, error)
        if session is not None:
            session.close()
        return None

    selected = select_databases(settings, databases)
    return dict(zip((database.key for database in selected), fan_out(run, selected, name="users"), strict=True))


def login_refused(error: Exception) -> bool:
    """Whether ``error`` is MySQL refusing an application user's login (no such user, or another password)."""
    return isinstance(error, ServerError) and error.errno in LOGIN_REFUSED


def status(
    settings: Settings, secrets: Mapping[str, str], *, as_root: Collection[str] = (), **selection: Unpack[Selection]
) -> StatusReport:
    """Every version of the selected databases, what is pending and what would refuse; changes nothing.

    The databases keyed in ``as_root`` are read as ``mysql.root_user``: ``plan``
    reads those whose application user ``up`` has still to create.
    """
    selected, files = _selected_files(settings, selection)
    context = _Context(settings, secrets, serialised(None), *_versions(selection), as_root=frozenset(as_root))
    results = fan_out(
        lambda database: _status_database(context, database, files[database.key]), selected, name="migrate"
    )
    return StatusReport(tuple(results))


def status_of_new_databases(
    settings: Settings, *, databases: Sequence[str] | None = None, schemas_dir: Path | None = None
) -> StatusReport:
    """``status`` of databases that do not exist yet (a server ``up`` has still to create): every file pending."""
    selected = select_databases(settings, databases)
    files = discover_all(settings, selected, schemas_dir)
    return StatusReport(
        tuple(
            DatabaseStatus(d.key, d.name, None, exists=False, has_history=False, plan=plan_database(files[d.key], None))
            for d in selected
        )
    )


# ``plan`` is ``status``: the steps of its report carry the statements ``migrate`` would run, and
# ``StatusReport.as_dict(statements=True)`` lists each with its ``file:line`` and whether it commits implicitly.
plan = status


def repair(
    settings: Settings,
    secrets: Mapping[str, str],
    *,
    databases: Sequence[str] | None = None,
    schemas_dir: Path | None = None,
    on_event: EventSink | None = None,
) -> RepairReport:
    """Accept the files as they are now, after review.

    An applied version whose file changed gets the new checksum. A failed or
    interrupted version gets the checksum of its already-applied statements as
    they now read, and may be retried unchanged. Nothing is executed but the
    history updates.
    """
    selected = select_databases(settings, databases)
    files = discover_all(settings, selected, schemas_dir)
    context = _Context(settings, secrets, serialised(on_event))
    results = fan_out(
        lambda database: _repair_database(context, database, files[database.key]), selected, name="migrate"
    )
    return RepairReport(tuple(results))


def baseline(
    settings: Settings,
    secrets: Mapping[str, str],
    *,
    databases: Sequence[str] | None = None,
    version: int = 1,
    description: str = "baseline",
    on_event: EventSink | None = None,
) -> BaselineReport:
    """Adopt existing databases: record that versions up to ``version`` are already present.

    Refused where a history exists already. Migration files at or below the
    baseline are never run there; later ones are applied by ``migrate``.
    """
    if version < 1:
        raise ConfigError(f"--version: expected a version of 1 or more, got {version}", hint="for example --version 1")
    selected = select_databases(settings, databases)
    context = _Context(settings, secrets, serialised(on_event))
    results = fan_out(
        lambda database: _baseline_database(context, database, version, description), selected, name="migrate"
    )
    return BaselineReport(tuple(results))


def select_databases(settings: Settings, keys: Sequence[str] | None) -> list[DatabaseSettings]:
    """The databases named by key (events, inventory, bookings), in settings order; all when None."""
    known = {database.key: database for database in settings.mysql.databases}
    if not keys:
        return list(settings.mysql.databases)
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise ConfigError(
            f"--db: unknown database {unknown[0]!r}",
            hint=f"choose from {', '.join(known)}",
        )
    return [database for database in settings.mysql.databases if database.key in keys]


# --------------------------------------------------------------------------- one database: migrate


def _migrate_database(
    context: _Context, database: DatabaseSettings, files: list[MigrationFile], result: DatabaseResult
) -> None:
    session, created, account = _open_database(context, database)
    result.created, result.account = created, account
    with session:
        result.server = session.server.label
        context.emit(MigrationEvent(CONNECTED, database.key, f"{database.name} on {session.server.label}"))
        history = hist.read_history(session)
        if history is not None or not files:
            current = plan_database(
                files, history, allow_out_of_order=context.allow_out_of_order, target=context.target
            )
            if current.up_to_date:
                for warning in current.warnings:
                    context.emit(MigrationEvent(WARNING, database.key, warning))
                context.emit(MigrationEvent(UP_TO_DATE, database.key, f"{database.name} is up to date"))
                return
        with _named_lock(context, database, session):
            session.commit()  # end the snapshot: the history is read again under the lock
            current = _plan_under_lock(context, session, database, files)
            for warning in current.warnings:
                context.emit(MigrationEvent(WARNING, database.key, warning))
            if current.problems:
                raise _refusal(database, current.problems)
            for step in current.steps:
                result.applied.append(_apply(context, session, database, step))
    if not result.applied:
        context.emit(MigrationEvent(UP_TO_DATE, database.key, f"{database.name} is up to date"))


def _plan_under_lock(
    context: _Context, session: Session, database: DatabaseSettings, files: list[MigrationFile]
) -> DatabasePlan:
    history = hist.read_history(session)
    if history is None:
        others = hist.count_other_tables(session)
        if others:
            raise MigrationError(
                f"database {database.name} has {others} tables but no ticketctl history; "
                "migrating it would run V001 over an existing schema",
                hint=f"adopt it with 'ticketctl migrate baseline --db {database.key}' (records V001 as present), "
                "or migrate an empty database",
            )
        hist.create_history_table(session)
        history = []
    return plan_database(files, history, allow_out_of_order=context.allow_out_of_order, target=context.target)


def _refusal(database: DatabaseSettings, problems: Sequence[Problem]) -> MigrationError:
    first = problems[0]
    more = f" (and {len(problems) - 1} more problem(s): 'ticketctl migrate status --db {database.key}')"
    return MigrationError(
        f"{database.name}: {first.message}" + (more if len(problems) > 1 else ""),
        hint=first.hint,
    )


def _apply(context: _Context, session: Session, database: DatabaseSettings, step: Step) -> AppliedMigration:
    migration = step.migration
    total = len(migration.statements)
    done = step.start - 1
    started = time.monotonic()
    verb = f"resuming at statement {step.start} of {total}" if step.resume else f"{total} statements"
    context.emit(
        MigrationEvent(
            APPLY,
            database.key,
            f"{migration.label} {migration.description} ({verb})",
            version=migration.version,
            statement=step.start,
            total=total,
        )
    )
    hist.start_version(
        session,
        version=migration.version,
        description=migration.description,
        script=migration.script,
        checksum=migration.checksum,
        applied_checksum=_prefix(migration, done),
        statements_applied=done,
        statements_total=total,
        out_of_order=step.out_of_order,
        resume=step.resume,
    )
    session.commit()
    for statement in step.statements:
        context.emit(
            MigrationEvent(
                STATEMENT,
                database.key,
                migration.where(statement),
                version=migration.version,
                statement=statement.index,
                total=total,
            )
        )
        if causes_implicit_commit(statement):
            hist.mark_in_flight(session, migration.version, statement.text, f"{migration.script}:{statement.line}")
            session.commit()
        try:
            session.execute(statement.text)
        except ServerError as error:
            if error.errno in CONNECTION_LOST:
                raise _connection_lost(context, database, migration, statement, total, error) from error
            session.rollback()
            _record_failure(context, session, database, migration, statement.index, error, started)
            raise MigrationError(
                f"{migration.where(statement)}: {database.name} {migration.label} failed at statement "
                f"{statement.index} of {total}: MySQL error {error.errno}: {error.detail}",
                hint=_failure_hint(statement.index),
            ) from error
        hist.record_progress(session, migration.version, statement.index, _prefix(migration, statement.index))
        session.commit()
    duration = _elapsed_ms(started)
    hist.record_success(session, migration.version, duration)
    session.commit()
    context.emit(
        MigrationEvent(
            APPLIED,
            database.key,
            f"{migration.label} {migration.description} applied in {duration} ms",
            version=migration.version,
            total=total,
        )
    )
    return AppliedMigration(
        version=migration.version,
        description=migration.description,
        script=migration.script,
        first_statement=step.start,
        statements_run=total - done,
        statements_total=total,
        duration_ms=duration,
        out_of_order=step.out_of_order,
    )


def _connection_lost(
    context: _Context,
    database: DatabaseSettings,
    migration: MigrationFile,
    statement: Statement,
    total: int,
    error: ServerError,
) -> ServerError:
    """The server went away under a statement: nothing is wrong with the file, and nothing can be recorded now."""
    mysql = context.settings.mysql
    index = statement.index
    if causes_implicit_commit(statement):
        outcome = (
            "it commits by itself and may have taken effect; once MySQL answers, "
            f"'ticketctl migrate status --db {database.key}' says how to go on"
        )
    else:
        outcome = (
            f"it was rolled back; once MySQL answers, run 'ticketctl migrate' again: it resumes at statement {index}"
        )
    return ServerError(
        f"{migration.where(statement)}: lost the connection to MySQL at {mysql.host}:{mysql.port} during statement "
        f"{index} of {total} of {database.name} {migration.label} (MySQL error {error.errno}: {error.detail})",
        hint=f"nothing is wrong with the statement, but {outcome}",
        errno=error.errno,
    )


def _failure_hint(index: int) -> str:
    return (
        f"{committed_statements(index - 1)}; fix statement {index} in the file, then run 'ticketctl migrate': "
        f"it resumes at statement {index}"
    )


def _record_failure(
    context: _Context,
    session: Session,
    database: DatabaseSettings,
    migration: MigrationFile,
    index: int,
    error: ServerError,
    started: float,
) -> None:
    statement = migration.statements[index - 1]
    try:
        hist.record_failure(
            session,
            version=migration.version,
            statements_applied=index - 1,
            applied_checksum=_prefix(migration, index - 1),
            error=f"MySQL error {error.errno}: {error.detail}",
            statement=statement.text,
            failed_at=f"{migration.script}:{statement.line}",  # stable whatever the working directory
            duration_ms=_elapsed_ms(started),
        )
        session.commit()
    except ServerError as record_error:  # the connection itself is gone: the row stays 'running'
        context.emit(
            MigrationEvent(
                WARNING,
                database.key,
                f"could not record the failure ({record_error.message}); the next run resumes at statement {index}",
            )
        )


def _prefix(migration: MigrationFile, count: int) -> str:
    checksum = migration.prefix_checksum(count)
    assert checksum is not None, "count never exceeds the file's statements here"
    return checksum


# --------------------------------------------------------------------------- one database: the other verbs


def _status_database(context: _Context, database: DatabaseSettings, files: list[MigrationFile]) -> DatabaseStatus:
    session = _open_existing(context, database)
    if session is None:
        empty = plan_database(files, None, allow_out_of_order=context.allow_out_of_order, target=context.target)
        return DatabaseStatus(database.key, database.name, None, exists=False, has_history=False, plan=empty)
    with session:
        history = hist.read_history(session)
        current = plan_database(files, history, allow_out_of_order=context.allow_out_of_order, target=context.target)
        if history is None and files:
            others = hist.count_other_tables(session)
            if others:
                problem = Problem(
                    "needs-baseline",
                    files[0].version,
                    f"database {database.name} has {others} tables but no ticketctl history",
                    f"adopt it with 'ticketctl migrate baseline --db {database.key}'",
                )
                current = replace(current, problems=(*current.problems, problem))
        if any(row.status == hist.RUNNING for row in history or ()):
            holder = _lock_holder(session, LOCK_PREFIX + database.name)
            note = (
                "a version is marked running but no migrate holds the lock: it was interrupted"
                if holder == "no one any more"
                else f"a migrate is running now: {holder}"
            )
            current = replace(current, warnings=(*current.warnings, note))
        return DatabaseStatus(
            database.key,
            database.name,
            session.server.label,
            exists=True,
            has_history=history is not None,
            plan=current,
        )


def _repair_database(context: _Context, database: DatabaseSettings, files: list[MigrationFile]) -> DatabaseRepair:
    session = _open_existing(context, database)
    if session is None:
        return DatabaseRepair(database.key, database.name, ())
    by_version = {migration.version: migration for migration in files}
    actions: list[RepairAction] = []
    with session, _named_lock(context, database, session):
        session.commit()
        for row in hist.read_history(session) or ():
            migration = by_version.get(row.version)
            if row.is_baseline or migration is None:
                continue
            action = _repair_row(session, row, migration)
            if action is not None:
                actions.append(action)
                context.emit(MigrationEvent(REPAIRED, database.key, action.detail, version=row.version))
        session.commit()
    return DatabaseRepair(database.key, database.name, tuple(actions))


def _repair_row(session: Session, row: hist.HistoryRow, migration: MigrationFile) -> RepairAction | None:
    total = len(migration.statements)
    if row.status == hist.SUCCESS:
        if row.checksum == migration.checksum:
            return None
        applied = _prefix(migration, total) if row.statements_applied <= total else None
        replaced = f"checksum {_short(row.checksum)} replaced by {_short(migration.checksum)}"
        return _accept(session, row, migration, (migration.checksum, applied), "checksum-accepted", replaced)
    prefix = migration.prefix_checksum(row.statements_applied)
    if prefix is None:
        raise MigrationError(
            f"{migration.display}: version {row.version} has {total} statements now but {row.statements_applied} "
            "were already applied; repair cannot tell which of them the database holds",
            hint="restore the applied statements in the file, then run 'ticketctl migrate repair' again",
        )
    retry_checksum = None if row.status == hist.FAILED else row.checksum
    checked = ""
    if row.in_flight:
        hist.clear_in_flight(session, row.version)
        checked = f"statement {row.statements_applied + 1} was checked by hand; the next migrate runs it again"
    if prefix == row.applied_checksum and row.checksum == retry_checksum:
        if checked:
            return RepairAction(
                row.version, migration.script, "in-flight-checked", f"{migration.label} {migration.script}: {checked}"
            )
        return None
    accepted = (
        f"{row.statements_applied} applied statements accepted as they read now; the next migrate resumes at "
        f"statement {row.statements_applied + 1}" + (f"; {checked}" if checked else "")
    )
    return _accept(session, row, migration, (retry_checksum, prefix), "failure-accepted", accepted)


def _accept(
    session: Session,
    row: hist.HistoryRow,
    migration: MigrationFile,
    checksums: tuple[str | None, str | None],
    action: str,
    detail: str,
) -> RepairAction:
    """Record the file as it reads now for ``row``'s version (``checksums``: the file's and its applied
    statements'), and say what was accepted."""
    checksum, applied_checksum = checksums
    hist.record_repair(
        session,
        version=row.version,
        checksum=checksum,
        applied_checksum=applied_checksum,
        statements_total=len(migration.statements),
        description=migration.description,
        script=migration.script,
    )
    return RepairAction(row.version, migration.script, action, f"{migration.label} {migration.script}: {detail}")


def _baseline_database(context: _Context, database: DatabaseSettings, version: int, description: str) -> BaselineResult:
    session = _open_existing(context, database)
    if session is None:
        raise MigrationError(
            f"database {database.name} does not exist: there is nothing to baseline",
            hint="run 'ticketctl migrate' to create it and apply every version",
        )
    with session, _named_lock(context, database, session):
        session.commit()
        history = hist.read_history(session)
        if history:
            raise MigrationError(
                f"database {database.name} already has a ticketctl history ({len(history)} versions); "
                "baseline only adopts a database that has none",
                hint=f"see 'ticketctl migrate status --db {database.key}'",
            )
        hist.create_history_table(session)
        hist.record_baseline(session, version, description)
        session.commit()
    context.emit(
        MigrationEvent(BASELINED, database.key, f"{database.name} baselined at V{version:03d}", version=version)
    )
    return BaselineResult(database.key, database.name, version, description)


# --------------------------------------------------------------------------- connections and the lock


def _open_database(context: _Context, database: DatabaseSettings) -> tuple[Session, bool, str | None]:
    """A session on the database as its application user, making the user and the database when missing.

    Returns the session, whether the database was created, and what was done to the user.
    """
    account = None
    try:
        session = _open_existing(context, database)
    except ServerError as error:
        if not login_refused(error):
            raise
        account = _make_account(context, database, error)
        session = _open_existing(context, database)
    if session is not None:
        return session, False, account
    _create_database(context, database)
    context.emit(MigrationEvent(CREATED, database.key, f"created database {database.name}"))
    credentials = app_credentials(database, context.secrets)
    return connect(context.settings.mysql, credentials, database=database.name, autocommit=False), True, account


def _make_account(context: _Context, database: DatabaseSettings, denied: ServerError) -> str:
    """As the root user: create the application user that does not exist, or (``sync_users``) set its password.

    ``denied`` (the application user's refused login) is raised again when the
    root user is not available or cannot tell, and when the user exists and
    ``sync_users`` is off.
    """
    root = root_credentials(context.settings, context.secrets)
    if root is None:
        raise denied
    credentials = app_credentials(database, context.secrets)
    try:
        session = connect(context.settings.mysql, root)
    except ServerError:
        raise denied from None
    with session:
        try:
            exists = account_exists(session, database.user)
        except ServerError:
            raise denied from None
        if context.dry_run:
            if exists and not context.sync_users:
                raise denied
            return ACCOUNT_PASSWORD_SET if exists else ACCOUNT_CREATED
        if not exists:
            create_account(session, database.user, credentials.password, database.name)
            context.emit(
                MigrationEvent(CREATED, database.key, f"created user {database.user} with ALL on {database.name}")
            )
            return ACCOUNT_CREATED
        if not context.sync_users:
            raise denied
        set_account_password(session, database.user, credentials.password)
        context.emit(
            MigrationEvent(
                WARNING,
                database.key,
                f"set the password of {database.user} to {credentials.secret}: the server had another",
            )
        )
        return ACCOUNT_PASSWORD_SET


def _open_existing(context: _Context, database: DatabaseSettings) -> Session | None:
    """A session on the database as its application user (not autocommit); None when it does not exist.

    As the root user instead where ``context.as_root`` names the database (and the root password is known).
    """
    root = root_credentials(context.settings, context.secrets) if database.key in context.as_root else None
    credentials = root or app_credentials(database, context.secrets)
    try:
        return connect(context.settings.mysql, credentials, database=database.name, autocommit=False)
    except ServerError as error:
        if error.errno == ER_BAD_DB:
            return None
        raise


def _create_database(context: _Context, database: DatabaseSettings) -> None:
    """CREATE DATABASE as the application user if it holds CREATE on it, else as the root user."""
    mysql = context.settings.mysql
    root = root_credentials(context.settings, context.secrets)
    candidates = [app_credentials(database, context.secrets), *([root] if root is not None else [])]
    try:
        create_database(mysql, candidates, database.name, charset=SESSION_CHARSET, collation=SESSION_COLLATION)
    except CreateDenied as error:
        where = f"{mysql.host}:{mysql.port}"
        if root is None:
            raise ServerError(
                f"database {database.name} does not exist on {where} and {database.user} lacks the CREATE privilege "
                "to create it; MYSQL_ROOT_PASSWORD is not set, so it was not tried as the root user",
                hint=f"set MYSQL_ROOT_PASSWORD (in .env or the environment), or as an administrator run "
                f"CREATE DATABASE `{database.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            ) from error
        raise ServerError(
            f"database {database.name} does not exist on {where} and neither {database.user} nor {root.user} "
            f"holds the CREATE privilege on it: {error.detail}",
            hint=f"as an administrator: GRANT CREATE ON `{database.name}`.* TO '{root.user}'@'%' "
            f"(or to '{database.user}'@'%')",
            errno=error.errno,
        ) from error


@contextmanager
def _named_lock(context: _Context, database: DatabaseSettings, session: Session) -> Iterator[None]:
    """Hold ``GET_LOCK('ticketctl_migrate_<database>')`` on ``session``, the one that does the work.

    A session of its own would lose the lock the moment a killed process's
    socket closes, while the server still runs that process's last statement.
    """
    name = LOCK_PREFIX + database.name
    timeout = context.settings.mysql.lock_timeout
    try:
        if not _get_lock(session, name, 0):
            context.emit(
                MigrationEvent(LOCK_WAIT, database.key, f"waiting up to {timeout}s for {_lock_holder(session, name)}")
            )
            if timeout == 0 or not _get_lock(session, name, timeout):
                raise LockedError(
                    f"{database.name}: the migration lock {name} is held by {_lock_holder(session, name)} "
                    f"and was not released within {timeout}s",
                    hint="another 'ticketctl migrate' is running: wait for it, or find the connection with "
                    "SHOW PROCESSLIST; mysql.lock_timeout sets the wait",
                )
        context.emit(MigrationEvent(LOCKED, database.key, f"holding {name}"))
        yield
    finally:
        with suppress(ServerError):
            session.execute("DO RELEASE_LOCK(%s)", (name,))


def _get_lock(session: Session, name: str, timeout: int) -> bool:
    row = session.query_one("SELECT GET_LOCK(%s, %s)", (name, timeout))
    if row is None or row[0] is None:
        raise ServerError(f"GET_LOCK({name}) failed on {session.where}", hint="check the server's error log")
    return int(row[0]) == 1


def _lock_holder(session: Session, name: str) -> str:
    """Who holds the lock: connection id, and user@host when the processlist shows it."""
    row = session.query_one("SELECT IS_USED_LOCK(%s)", (name,))
    holder = None if row is None else row[0]
    if holder is None:
        return "no one any more"
    process = session.query_one(
        "SELECT USER, HOST, TIME, COMMAND FROM information_schema.PROCESSLIST WHERE ID = %s", (holder,)
    )
    if process is None:
        return f"connection {holder} (its user is hidden without the PROCESS privilege)"
    user, host, seconds, command = process
    return f"connection {holder} of {user}@{host} (connected {seconds}s, {command})"


# --------------------------------------------------------------------------- helpers


def discover_all(
    settings: Settings, selected: Sequence[DatabaseSettings], schemas_dir: Path | None
) -> dict[str, list[MigrationFile]]:
    """The migrations of each selected database: from ``schemas_dir`` when given, else the setting's folder."""
    folder = schemas_dir if schemas_dir is not None else schemas_folder(settings)
    return {database.key: discover(folder, database.key) for database in selected}


def schemas_folder(settings: Settings) -> Path:
    """The folder of the migrations: the schemas_dir setting, else the packaged schemas; it must exist."""
    from ticketctl.config.resources import schemas_dir as packaged_schemas

    if settings.schemas_dir is None:
        return packaged_schemas()
    if not settings.schemas_dir.is_dir():
        raise ConfigError(
            f"{settings.source_of('schemas_dir')}: schemas_dir: {settings.schemas_dir}: folder not found",
            hint="point it at the folder holding events/, inventory/ and bookings/, or remove it for the packaged "
            "migrations",
        )
    return settings.schemas_dir


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _short(checksum: str | None) -> str:
    return checksum[:12] if checksum else "none"
