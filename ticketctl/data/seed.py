"""``ticketctl seed``: deterministic sample data in the three databases, bulk-loaded.

:func:`seed` checks before it writes: every database migrated, no other seed running,
and the tables empty — or what is there cleared as the caller said (``replace``) and
confirmed. The rows come from :mod:`ticketctl.data.sample` a chunk at a time; one
thread per database loads a chunk while the next one is made. Each database records
what seed made in ``ticketctl_seed`` (table, id range, options), which is how
``replace="seed"`` finds exactly those rows again.
"""

from __future__ import annotations

import json
import queue
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ticketctl.clients.mysql import ServerError, app_credentials, connect, lock_name, quote_identifier
from ticketctl.data import tables as t
from ticketctl.data.load import (
    LOCAL_INFILE_REFUSED,
    InsertLoader,
    LoadDataLoader,
    Loader,
    Method,
    server_allows_local_infile,
)
from ticketctl.data.sample import Chunk, SeedOptions, generate, planned_rows
from ticketctl.data.schema import require_columns
from ticketctl.errors import AbortedError, ConfigError, ExitCode, LockedError, TicketctlError
from ticketctl.events import Event, Notice, StepEvent, serialised
from ticketctl.parallel import Worker, wait_for

if TYPE_CHECKING:
    from ticketctl.clients.mysql import Session
    from ticketctl.config.settings import DatabaseSettings, Settings

Replace = Literal["none", "seed", "all"]
MethodChoice = Literal["auto", "load-data", "insert"]
RECORD_TABLE = "ticketctl_seed"
DELETE_CHUNK = 50_000
ER_TRUNCATE_ILLEGAL_FK = 1701
MAX_EVENTS = 10_000_000
MAX_SEATS_PER_EVENT = 100_000
_RECORD_DDL = f"""CREATE TABLE IF NOT EXISTS {RECORD_TABLE} (
    table_name VARCHAR(64) NOT NULL PRIMARY KEY,
    id_column VARCHAR(64) NOT NULL,
    first_id BIGINT NOT NULL,
    last_id BIGINT NULL,
    row_count BIGINT NOT NULL DEFAULT 0,
    options VARCHAR(1000) NOT NULL,
    state ENUM('loading', 'done') NOT NULL,
    seeded_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""


class NotEmptyError(TicketctlError):
    """The tables hold data and the caller did not say what to do with it."""

    exit_code = ExitCode.NOT_EMPTY


@dataclass(frozen=True)
class TableProgress(Event):
    """Rows loaded so far into one table (``total`` None when not known in advance)."""

    database: str
    table: str
    done: int
    total: int | None


@dataclass(frozen=True)
class TableLoad:
    database: str  # the database's name (events_db, …)
    table: str
    rows: int
    seconds: float  # time in this table's load statements

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "table": self.table,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds) if self.seconds > 0 else None,
        }


@dataclass(frozen=True)
class SeedResult:
    options: SeedOptions
    method: Method
    method_reason: str
    tables: list[TableLoad]
    cleared: dict[str, int]  # "database.table" → rows deleted by --replace / --replace-all
    seconds: float  # generating and loading, wall clock
    total_seconds: float  # the whole command: checks, clearing, loading

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def count(self, table: str) -> int:
        return sum(load.rows for load in self.tables if load.table == table)

    def as_dict(self) -> dict[str, Any]:
        return {
            "options": self.options.as_dict(),
            "method": self.method,
            "method_reason": self.method_reason,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
            "total_seconds": round(self.total_seconds, 3),
            "tables": [table.as_dict() for table in self.tables],
            "cleared": self.cleared,
        }


@dataclass
class _Database:
    """One database of the run: its settings, its check session, and what it holds."""

    settings: DatabaseSettings
    session: Session
    counts: dict[str, int] = field(default_factory=dict)  # table → rows
    seeded: dict[str, int] = field(default_factory=dict)  # table → rows a previous seed made
    records: dict[str, tuple[str, int, int | None]] = field(default_factory=dict)  # table → (column, first, last)
    recorded_options: str | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    def foreign(self, table: str) -> int:
        return self.counts.get(table, 0) - self.seeded.get(table, 0)


def check_options(options: SeedOptions) -> None:
    if not 1 <= options.events <= MAX_EVENTS:
        raise ConfigError(f"--events: must be between 1 and {MAX_EVENTS}, got {options.events}")
    if not 1 <= options.seats_per_event <= MAX_SEATS_PER_EVENT:
        raise ConfigError(
            f"--seats-per-event: must be between 1 and {MAX_SEATS_PER_EVENT}, got {options.seats_per_event}"
        )
    for name, value in (("--booked", options.booked), ("--reserved", options.reserved)):
        if not 0 <= value <= 1:
            raise ConfigError(f"{name}: must be a share between 0 and 1, got {value}")
    if options.booked + options.reserved > 0.99:
        raise ConfigError(
            f"--booked + --reserved: {options.booked} + {options.reserved} leaves no seat available",
            hint="keep their sum under 0.99",
        )


def seed(
    settings: Settings,
    secrets: Mapping[str, str],
    options: SeedOptions,
    *,
    replace: Replace = "none",
    method: MethodChoice = "auto",
    confirm: Callable[[str], bool] | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> SeedResult:
    """Fill the three databases with the sample data of ``options``; see the module docstring."""
    check_options(options)
    emit = on_event or (lambda event: None)
    started = time.monotonic()
    with ExitStack() as stack:
        databases = {
            key: _Database(settings.mysql.database(key), stack.enter_context(_open(settings, secrets, key)))
            for key in ("events", "inventory", "bookings")
        }
        for database in databases.values():
            _require_schema(database)
        for database in databases.values():
            stack.enter_context(_seed_lock(database))
        emit(StepEvent("check", "started", "counting the rows already there"))
        for database in databases.values():
            _survey(database)
        emit(StepEvent("check", "done"))
        cleared = _clear(databases, replace, confirm, emit)
        chosen, reason = _choose_method(databases["events"].session, method)
        if chosen == "insert" and method == "auto":
            emit(Notice(reason, level="warning"))
        for database in databases.values():
            _record_start(database, options)
        load_started = time.monotonic()
        chosen, reason, loads = _load(settings, secrets, databases, options, chosen, reason, emit)
        seconds = time.monotonic() - load_started
        for database in databases.values():
            _record_done(database, loads)
    return SeedResult(
        options=options,
        method=chosen,
        method_reason=reason,
        tables=[loads[table.name] for table in t.SEED_TABLES],
        cleared=cleared,
        seconds=seconds,
        total_seconds=time.monotonic() - started,
    )


# --------------------------------------------------------------------------- checks


@contextmanager
def _open(settings: Settings, secrets: Mapping[str, str], key: str, *, local_infile: bool = False) -> Iterator[Session]:
    database = settings.mysql.database(key)
    session = connect(
        settings.mysql,
        app_credentials(database, secrets),
        database=database.name,
        autocommit=not local_infile,
        local_infile=local_infile,
    )
    try:
        yield session
    finally:
        session.close()


def _require_schema(database: _Database) -> None:
    needed: dict[str, tuple[str, ...]] = {
        table.name: table.column_names for table in t.tables_of(database.settings.key)
    }
    if database.settings.key == t.AUDIT_TABLE[0]:
        needed[t.AUDIT_TABLE[1]] = ("seat_id",)
    require_columns(database.session, database.name, needed)


@contextmanager
def _seed_lock(database: _Database) -> Iterator[None]:
    name = lock_name("seed", database.name)
    row = database.session.query_one("SELECT GET_LOCK(%s, 0)", (name,))
    if not row or row[0] != 1:
        raise LockedError(
            f"{database.name}: another ticketctl seed is running (lock {name})",
            hint="wait for it to finish, then run seed again",
        )
    try:
        yield
    finally:
        database.session.query("SELECT RELEASE_LOCK(%s)", (name,))


def _table_names(database: _Database) -> list[str]:
    names = [table.name for table in t.tables_of(database.settings.key)]
    if database.settings.key == t.AUDIT_TABLE[0]:
        names.append(t.AUDIT_TABLE[1])
    return names


def _survey(database: _Database) -> None:
    """Count each table's rows, and among them those a previous seed recorded."""
    session = database.session
    has_records = _count(
        session,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (database.name, RECORD_TABLE),
    )
    if has_records:
        for table, column, first, last, options in session.query(
            f"SELECT table_name, id_column, first_id, last_id, options FROM {RECORD_TABLE}"
        ):
            database.records[str(table)] = (str(column), int(first), None if last is None else int(last))
            database.recorded_options = str(options)
    for table in _table_names(database):
        quoted = quote_identifier(table)
        database.counts[table] = _count(session, f"SELECT COUNT(*) FROM {quoted}")
        record = database.records.get(table)
        if record and database.counts[table]:
            where, args = _range(*record)
            database.seeded[table] = _count(session, f"SELECT COUNT(*) FROM {quoted} WHERE {where}", args)


def _count(session: Session, sql: str, args: tuple[Any, ...] | None = None) -> int:
    row = session.query_one(sql, args)
    return int(row[0]) if row else 0


def _range(column: str, first: int, last: int | None) -> tuple[str, tuple[int, ...]]:
    """The rows of a seed: its id range, open-ended while it was still loading (a seed that failed)."""
    if last is None:
        return f"{quote_identifier(column)} >= %s", (first,)
    return f"{quote_identifier(column)} BETWEEN %s AND %s", (first, last)


# --------------------------------------------------------------------------- replace


def _clear(
    databases: Mapping[str, _Database],
    replace: Replace,
    confirm: Callable[[str], bool] | None,
    emit: Callable[[Event], None],
) -> dict[str, int]:
    occupied = [
        (database, table, count) for database in databases.values() for table, count in database.counts.items() if count
    ]
    if not occupied:
        return {}
    foreign = [(database, table, database.foreign(table)) for database, table, _ in occupied if database.foreign(table)]
    described = _describe(occupied)
    if replace == "none":
        if foreign:
            raise NotEmptyError(
                f"{_describe(foreign)} hold rows that seed did not make; seed never mixes its rows with others",
                hint="pass --replace-all to delete every row of these tables first (asks), or seed other databases",
            )
        raise NotEmptyError(
            f"{described} hold a previous seed ({_options(databases)})",
            hint="pass --replace to delete it first (asks; --yes does not), or keep it",
        )
    if replace == "seed" and foreign:
        raise NotEmptyError(
            f"{_describe(foreign)} hold rows that seed did not make; --replace deletes only a seed's rows, and seed "
            "never mixes its rows with others",
            hint="pass --replace-all to delete every row of these tables (asks first)",
        )
    what = "every row of" if replace == "all" else "the rows of the previous seed in"
    question = f"Delete {what} {described}? This cannot be undone."
    if confirm is None or not confirm(question):
        raise AbortedError(
            f"seed aborted: {described} kept, nothing written", hint="pass --yes to delete without asking"
        )
    cleared: dict[str, int] = {}
    for database in databases.values():
        emit(StepEvent(f"clear {database.name}", "started"))
        session = database.session
        session.execute("SET SESSION foreign_key_checks = 0")
        try:
            for table in reversed(_table_names(database)):
                if database.counts.get(table):
                    cleared[f"{database.name}.{table}"] = _delete(database, table, everything=replace == "all")
            if database.records:
                session.execute(f"DELETE FROM {RECORD_TABLE}")
        finally:
            session.execute("SET SESSION foreign_key_checks = 1")
        emit(StepEvent(f"clear {database.name}", "done"))
    return cleared


def _delete(database: _Database, table: str, *, everything: bool) -> int:
    """Delete a seed's rows (by its id range, in chunks), or every row (TRUNCATE where it can)."""
    session = database.session
    quoted = quote_identifier(table)
    count = database.counts[table]
    if everything and table != t.OUTBOX.name:  # the outbox keeps its AUTO_INCREMENT: ids never come back
        try:
            session.execute(f"TRUNCATE TABLE {quoted}")
            return count
        except ServerError as error:
            if error.errno != ER_TRUNCATE_ILLEGAL_FK:
                raise
    if everything:
        column, first, last = _id_column(table), None, None
    else:
        column, first, last = database.records[table]
    deleted = 0
    while True:
        where, args = ("1 = 1", ()) if first is None else _range(column, first, last)
        removed = session.execute(f"DELETE FROM {quoted} WHERE {where} LIMIT {DELETE_CHUNK}", args)
        deleted += removed
        if removed < DELETE_CHUNK:
            return deleted


def _id_column(table: str) -> str:
    return next((spec.id_column for spec in t.SEED_TABLES if spec.name == table), "id")


def _describe(items: list[tuple[_Database, str, int]]) -> str:
    parts = [f"{database.name}.{table} ({count} rows)" for database, table, count in items]
    return ", ".join(parts[:4]) + (f" and {len(parts) - 4} more tables" if len(parts) > 4 else "")


def _options(databases: Mapping[str, _Database]) -> str:
    for database in databases.values():
        if database.recorded_options:
            try:
                recorded = json.loads(database.recorded_options)
            except ValueError:
                break
            return ", ".join(f"{key} {value}" for key, value in recorded.items() if key in ("seed", "events", "start"))
    return "options unknown"


# --------------------------------------------------------------------------- records


def _record_start(database: _Database, options: SeedOptions) -> None:
    session = database.session
    session.execute(_RECORD_DDL)
    session.execute(f"DELETE FROM {RECORD_TABLE}")
    text = json.dumps(options.as_dict())
    for table in t.tables_of(database.settings.key):
        session.execute(
            f"INSERT INTO {RECORD_TABLE} (table_name, id_column, first_id, last_id, options, state) "
            "VALUES (%s, %s, 1, NULL, %s, 'loading')",
            (table.name, table.id_column, text),
        )


def _record_done(database: _Database, loads: Mapping[str, TableLoad]) -> None:
    session = database.session
    for table in t.tables_of(database.settings.key):
        column = quote_identifier(table.id_column)
        row = session.query_one(f"SELECT COALESCE(MAX({column}), 0) FROM {quote_identifier(table.name)}")
        session.execute(
            f"UPDATE {RECORD_TABLE} SET last_id = %s, row_count = %s, state = 'done' WHERE table_name = %s",
            (int(row[0]) if row else 0, loads[table.name].rows, table.name),
        )


# --------------------------------------------------------------------------- loading


def _choose_method(session: Session, method: MethodChoice) -> tuple[Method, str]:
    allowed = server_allows_local_infile(session)
    if method == "insert":
        return "insert", "--method insert"
    if allowed:
        return "load-data", "LOAD DATA LOCAL INFILE (the server allows local_infile)"
    if method == "load-data":
        raise ConfigError(
            f"{session.server.label} has local_infile=OFF, so --method load-data cannot be used",
            hint="SET GLOBAL local_infile = 1 as an administrator (MySQL 8's default is OFF), or use --method auto",
        )
    return "insert", (
        f"multi-row INSERT: {session.server.label} has local_infile=OFF (MySQL 8's default); as an administrator, "
        "SET GLOBAL local_infile = 1 lets seed use LOAD DATA LOCAL INFILE, about twice as fast"
    )


@dataclass
class _Worker:
    """Loads the chunks of one database in its own thread and session."""

    key: str
    name: str
    loader: Loader
    planned: dict[str, int | None]
    emit: Callable[[Event], None]
    chunks: queue.Queue[Chunk | None] = field(default_factory=lambda: queue.Queue(maxsize=2))
    done: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None
    fallback: str | None = None  # why LOAD DATA was given up mid-way
    commit_seconds: float = 0.0

    def run(self) -> None:
        """Load every chunk, then commit: one transaction per database, all or nothing.

        One transaction is also what makes it fast: MariaDB (10.6+) loads a table that was
        empty when the transaction began in bulk — no undo log per row, and with
        ``unique_checks`` and ``foreign_key_checks`` off, indexes built by sorting — which
        a commit per chunk would give up after the first chunk.
        """
        try:
            while True:
                chunk = self.chunks.get()
                if chunk is None:
                    break
                self._load(chunk)
            self.emit(StepEvent(f"commit {self.name}", "started"))
            started = time.monotonic()
            self.loader.session.commit()
            self.commit_seconds = time.monotonic() - started
            self.emit(StepEvent(f"commit {self.name}", "done"))
        except BaseException as error:  # handed to the main thread
            self.error = error
            while self.chunks.get() is not None:  # let the producer finish
                pass

    def _load(self, chunk: Chunk) -> None:
        session = self.loader.session
        for table in t.tables_of(self.key):
            rows = chunk[table.name]
            started = time.monotonic()
            try:
                loaded = self.loader.load(table, rows)
            except ServerError as error:
                if self.loader.method != "load-data" or error.errno not in LOCAL_INFILE_REFUSED:
                    raise
                self.fallback = f"multi-row INSERT: the server refused LOAD DATA LOCAL INFILE ({error.detail})"
                self.loader = InsertLoader(session)
                loaded = self.loader.load(table, rows)
            self.seconds[table.name] = self.seconds.get(table.name, 0.0) + time.monotonic() - started
            self.done[table.name] = self.done.get(table.name, 0) + loaded
            self.emit(TableProgress(self.name, table.name, self.done[table.name], self.planned[table.name]))


def _load(
    settings: Settings,
    secrets: Mapping[str, str],
    databases: Mapping[str, _Database],
    options: SeedOptions,
    method: Method,
    reason: str,
    emit: Callable[[Event], None],
) -> tuple[Method, str, dict[str, TableLoad]]:
    planned = planned_rows(options)
    emit_serially = serialised(emit)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ticketctl-seed-")))
        workers: list[_Worker] = []
        for key, database in databases.items():
            session = stack.enter_context(_open(settings, secrets, key, local_infile=method == "load-data"))
            # The tables are empty (checked above) and the rows consistent (generated so): no row-by-row checks.
            session.execute("SET SESSION foreign_key_checks = 0")
            folder = workdir / key
            folder.mkdir()
            loader: Loader = LoadDataLoader(session, folder) if method == "load-data" else InsertLoader(session)
            workers.append(_Worker(key, database.name, loader, planned, emit_serially))
        emit_serially(StepEvent("load", "started", reason))
        for table in t.SEED_TABLES:  # every table's bar, in load order, before the first rows arrive
            emit_serially(TableProgress(databases[table.database].name, table.name, 0, planned[table.name]))
        threads = [Worker(worker.run, name=f"seed-{worker.key}") for worker in workers]
        for thread in threads:
            thread.start()
        try:
            for chunk in generate(options):
                if any(worker.error for worker in workers):
                    break
                for worker in workers:
                    worker.chunks.put(chunk)
        finally:
            for worker in workers:
                worker.chunks.put(None)
            wait_for(threads)
        for worker in workers:
            if worker.error is not None:
                raise _load_error(worker) from worker.error
    fallbacks = [worker.fallback for worker in workers if worker.fallback]
    if fallbacks:
        method, reason = "insert", fallbacks[0]
        emit(Notice(reason, level="warning"))
    loads = {
        table.name: TableLoad(
            databases[table.database].name,
            table.name,
            next(w for w in workers if w.key == table.database).done.get(table.name, 0),
            next(w for w in workers if w.key == table.database).seconds.get(table.name, 0.0),
        )
        for table in t.SEED_TABLES
    }
    return method, reason, loads


def _load_error(worker: _Worker) -> TicketctlError:
    error = worker.error
    message = error.message if isinstance(error, TicketctlError) else f"{type(error).__name__}: {error}"
    return TicketctlError(
        f"seed of {worker.name} failed: {message}",
        hint="the rows loaded so far stay, recorded as an unfinished seed: 'ticketctl seed --replace' deletes them",
        exit_code=error.exit_code if isinstance(error, TicketctlError) else ExitCode.DATABASE,
    )
