"""Schema drift: each live database beside the schema its applied migrations produce.

The expected schema is not guessed from the SQL: the applied migrations (as
the history records them: whole versions, the applied part of a failed one,
the files at or below a baseline) are run on a throwaway *shadow* database on
the same server, like Atlas's dev database, and the two are compared through
``information_schema``. Comparing on one server sidesteps most of what differs
between MySQL 8 and MariaDB (how ``COLUMN_DEFAULT`` is quoted, display widths,
``JSON`` as ``LONGTEXT`` with a check): both sides are written by the same
server in the same terms, and the report uses those terms. What must still be
normalised is what names the schema itself: the schema of a foreign key's
referenced table and the qualifiers inside a view's definition.

Creating the shadow is the only write: ``CREATE DATABASE
ticketctl_shadow_<key>_<server time>_<random>``, the migrations inside it, and
``DROP DATABASE`` in a ``finally`` on a connection of its own (so a Ctrl-C in the
middle of a statement still drops it). A shadow left by a killed process is
recognised by its name and dropped by the next run once it is older than
:data:`STALE_SECONDS`. The shadow is created as the database's application
user if it may, else as ``mysql.root_user``; when neither may, the error says
which privilege is missing, on what, for whom.
"""

from __future__ import annotations

import re
import secrets as _random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ticketctl.clients.mysql import (
    ER_BAD_DB,
    CreateDenied,
    Credentials,
    ServerError,
    ServerInfo,
    Session,
    app_credentials,
    connect,
    create_database,
    quote_identifier,
    root_credentials,
)
from ticketctl.config.settings import DatabaseSettings, Settings
from ticketctl.errors import DatabaseError, ExitCode, MigrationError, TicketctlError
from ticketctl.migrations import history as hist
from ticketctl.migrations.files import MigrationFile
from ticketctl.migrations.lexer import Statement, TokenKind
from ticketctl.migrations.runner import discover_all, select_databases
from ticketctl.parallel import fan_out

SHADOW_PREFIX = "ticketctl_shadow_"
_SHADOW_NAME = re.compile(rf"^{SHADOW_PREFIX}[a-z0-9_]*?_(\d{{10}})_[0-9a-f]{{6}}$")
# A shadow older than this is a leftover of a killed run (a drift takes seconds) and is dropped.
STALE_SECONDS = 600
SHADOW_PRIVILEGES = "CREATE, DROP, ALTER, INDEX, REFERENCES, SELECT, INSERT, UPDATE, DELETE, CREATE VIEW, TRIGGER"

Kind = Literal["table", "column", "index", "unique key", "primary key", "foreign key", "check", "view", "trigger"]
Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class SchemaDifference:
    """One difference between a live database and the schema of its applied migrations.

    ``added``: live has it, the migrations do not; ``removed``: the migrations
    create it and it is not live; ``changed``: both have it, ``attributes`` say
    how they differ, each as (attribute, live, expected) in the server's terms.
    """

    table: str
    kind: Kind
    name: str | None
    change: Change
    live: str | None = None
    expected: str | None = None
    attributes: tuple[tuple[str, str | None, str | None], ...] = ()

    @property
    def subject(self) -> str:
        if self.kind in ("table", "view"):
            return f"{self.kind} {self.table}"
        return f"{self.table}: {self.kind} {self.name}"

    def describe(self) -> str:
        if self.change == "added":
            return f"{self.subject} exists live but not in the applied migrations" + _colon(self.live)
        if self.change == "removed":
            return f"{self.subject} is missing live; the applied migrations create it" + _colon(self.expected)
        parts = "; ".join(
            f"{name} {_text(live)} live, {_text(expected)} expected" for name, live, expected in self.attributes
        )
        return f"{self.subject}: {parts}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "kind": self.kind,
            "name": self.name,
            "change": self.change,
            "live": self.live,
            "expected": self.expected,
            "attributes": [{"attribute": a, "live": live, "expected": exp} for a, live, exp in self.attributes],
            "description": self.describe(),
        }


def _colon(text: str | None) -> str:
    return f": {text}" if text else ""


def _text(value: str | None) -> str:
    return "(none)" if value is None else value


@dataclass
class DatabaseDrift:
    """One database's drift, or why it could not be computed."""

    key: str
    name: str
    server: str | None = None
    differences: tuple[SchemaDifference, ...] = ()
    applied: tuple[str, ...] = ()  # the versions reproduced on the shadow ("V001", "V002 (3 of 5 statements)")
    shadow_user: str | None = None
    notes: tuple[str, ...] = ()
    error: TicketctlError | None = None
    seconds: float = 0.0

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    @property
    def fix(self) -> str:
        return (
            f"put the change into a new migration in schemas/{self.key}/ (or undo it by hand); "
            f"'ticketctl migrate drift --db {self.key}' lists every difference"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.key,
            "name": self.name,
            "server": self.server,
            "drift": self.drifted,
            "differences": [difference.as_dict() for difference in self.differences],
            "applied": list(self.applied),
            "shadow_user": self.shadow_user,
            "notes": list(self.notes),
            "error": {"message": self.error.message, "hint": self.error.hint, "exit_code": int(self.error.exit_code)}
            if self.error
            else None,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class DriftReport:
    databases: tuple[DatabaseDrift, ...]
    cleaned: tuple[str, ...] = ()  # leftover shadows of killed runs, dropped
    seconds: float = 0.0

    @property
    def drifted(self) -> bool:
        return any(database.drifted for database in self.databases)

    @property
    def first_error(self) -> TicketctlError | None:
        return next((database.error for database in self.databases if database.error is not None), None)

    @property
    def exit_code(self) -> ExitCode:
        """An error's own code first (a database could not be checked), then 10 for drift, else 0."""
        error = self.first_error
        if error is not None:
            return error.exit_code
        return ExitCode.DRIFT if self.drifted else ExitCode.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "drift": self.drifted,
            "databases": [database.as_dict() for database in self.databases],
            "cleaned_shadows": list(self.cleaned),
            "seconds": round(self.seconds, 3),
            "exit_code": int(self.exit_code),
        }


# --------------------------------------------------------------------------- the verb


def drift(
    settings: Settings,
    secrets: Mapping[str, str],
    *,
    databases: Sequence[str] | None = None,
    schemas_dir: Path | None = None,
) -> DriftReport:
    """Compare each selected database with the schema its applied migrations produce; changes no live data."""
    started = time.monotonic()
    selected = select_databases(settings, databases)
    files = discover_all(settings, selected, schemas_dir)
    names = {database.name for database in settings.mysql.databases}
    cleaned: list[str] = []

    def run(database: DatabaseSettings) -> DatabaseDrift:
        result = DatabaseDrift(database.key, database.name)
        began = time.monotonic()
        try:
            _database_drift(settings, secrets, database, files[database.key], names, result, cleaned)
        except TicketctlError as error:
            result.error = error
        result.seconds = time.monotonic() - began
        return result

    results = fan_out(run, selected, name="drift")
    return DriftReport(tuple(results), tuple(sorted(set(cleaned))), time.monotonic() - started)


def _database_drift(
    settings: Settings,
    secrets: Mapping[str, str],
    database: DatabaseSettings,
    files: list[MigrationFile],
    database_names: set[str],
    result: DatabaseDrift,
    cleaned: list[str],
) -> None:
    live = _open_live(settings, secrets, database)
    if live is None:
        result.notes = (f"{database.name} does not exist yet: nothing to compare ('ticketctl migrate' creates it)",)
        return
    with live:
        result.server = live.server.label
        rows = hist.read_history(live)
        if rows is None:
            if hist.count_other_tables(live):
                raise MigrationError(
                    f"{database.name} has tables but no ticketctl history: no applied migration to compare them with",
                    hint=f"adopt it with 'ticketctl migrate baseline --db {database.key}'",
                )
            result.notes = (f"{database.name} has no migration applied yet and no table",)
            return
        steps, notes = applied_statements(database, files, rows, database_names)
        result.notes = tuple(notes)
        result.applied = tuple(label for label, _ in steps)
        charset, collation, server_time = _schema_defaults(live, database.name)
        shadow = _Shadow(settings, secrets, database, charset, collation, server_time)
        expected, result.shadow_user = shadow.build(steps, cleaned)
        actual = describe_schema(live, database.name)
    result.differences = tuple(compare_schemas(actual, expected))


def _open_live(settings: Settings, secrets: Mapping[str, str], database: DatabaseSettings) -> Session | None:
    try:
        return connect(settings.mysql, app_credentials(database, secrets), database=database.name)
    except ServerError as error:
        if error.errno == ER_BAD_DB:
            return None
        raise


def _schema_defaults(session: Session, name: str) -> tuple[str, str, int]:
    """The live database's default character set and collation (the shadow gets the same), and the server's time."""
    row = session.query_one(
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME, UNIX_TIMESTAMP() FROM information_schema.SCHEMATA "
        "WHERE SCHEMA_NAME = %s",
        (name,),
    )
    if row is None:
        raise DatabaseError(f"{name} is not visible in information_schema.SCHEMATA", hint="check the user's rights")
    return str(row[0]), str(row[1]), int(row[2])


# --------------------------------------------------------------------------- what was applied


def applied_statements(
    database: DatabaseSettings,
    files: Sequence[MigrationFile],
    rows: Sequence[hist.HistoryRow],
    database_names: Iterable[str] = (),
) -> tuple[list[tuple[str, tuple[Statement, ...]]], list[str]]:
    """The statements the history says this database holds, by version, and notes on how sure that is.

    Refused (a :class:`MigrationError`) when the history names a version whose
    file is gone, or a statement would reach outside the shadow (``USE``, or a
    name qualified with one of the stack's databases).
    """
    by_version = {migration.version: migration for migration in files}
    baseline = max((row.version for row in rows if row.is_baseline), default=None)
    recorded = {row.version: row for row in rows if not row.is_baseline}
    steps: list[tuple[str, tuple[Statement, ...]]] = []
    notes: list[str] = []
    for version in sorted({*recorded, *(v for v in by_version if baseline is not None and v <= baseline)}):
        migration = by_version.get(version)
        row = recorded.get(version)
        if migration is None:
            raise MigrationError(
                f"{database.name}: V{version:03d} is recorded as applied but its file is gone, so the schema it "
                "produced cannot be reproduced",
                hint=f"restore schemas/{database.key}/V{version:03d}__*.sql",
            )
        statements = migration.statements
        label = migration.label
        if row is not None and row.status != hist.SUCCESS:
            statements = statements[: row.statements_applied]
            label += f" ({row.statements_applied} of {len(migration.statements)} statements, {row.status})"
        elif row is not None and row.checksum != migration.checksum:
            notes.append(f"{migration.display} changed since it was applied: the shadow uses it as it is now")
        elif row is None:
            label += " (at or below the baseline)"
        _refuse_escapes(migration, statements, {database.name, *database_names})
        steps.append((label, tuple(statements)))
    if baseline is not None and not any(version <= baseline for version in by_version):
        notes.append(
            f"baselined at V{baseline:03d} without the files of those versions: what existed before ticketctl "
            "shows as added live"
        )
    return steps, notes


def _refuse_escapes(migration: MigrationFile, statements: Iterable[Statement], names: set[str]) -> None:
    lowered = {name.lower() for name in names}
    for statement in statements:
        tokens = statement.tokens
        escapes = statement.words[:1] == ["USE"] or any(
            token.kind in (TokenKind.WORD, TokenKind.IDENTIFIER)
            and token.text.strip("`").lower() in lowered
            and index + 1 < len(tokens)
            and tokens[index + 1].text == "."
            for index, token in enumerate(tokens)
        )
        if escapes:
            raise MigrationError(
                f"{migration.where(statement)}: the statement names a database of the stack (or switches with USE), "
                "so it cannot be reproduced on a shadow database without touching that database",
                hint="write unqualified names in migrations (each file runs in its own database)",
            )


# --------------------------------------------------------------------------- the shadow


def shadow_name(key: str, server_time: int) -> str:
    """``ticketctl_shadow_<key>_<server unix time>_<6 hex>``: recognisable, dated by the server's clock."""
    return f"{SHADOW_PREFIX}{key}_{server_time:010d}_{_random.token_hex(3)}"


@dataclass(frozen=True)
class _Shadow:
    """The throwaway database of one drift: created, filled, read and dropped by :meth:`build`."""

    settings: Settings
    secrets: Mapping[str, str]
    database: DatabaseSettings
    charset: str
    collation: str
    server_time: int

    def build(self, steps: Sequence[tuple[str, Sequence[Statement]]], cleaned: list[str]) -> tuple[Schema, str]:
        """The schema the steps produce on an empty database, and the user that created it."""
        mysql = self.settings.mysql
        root = root_credentials(self.settings, self.secrets)
        candidates = [app_credentials(self.database, self.secrets), *([root] if root is not None else [])]
        name = shadow_name(self.database.key, self.server_time)
        try:
            creator = create_database(mysql, candidates, name, charset=self.charset, collation=self.collation)
        except CreateDenied as error:
            raise _missing_right(self.settings, self.database, root, error) from error
        try:
            with connect(mysql, creator, database=name) as shadow:
                cleaned += _drop_stale(shadow, self.server_time)
                for label, statements in steps:
                    _apply(shadow, self.database, label, statements)
                return describe_schema(shadow, name), creator.user
        finally:
            drop_shadow(self.settings, creator, name)


def _apply(shadow: Session, database: DatabaseSettings, label: str, statements: Sequence[Statement]) -> None:
    for statement in statements:
        try:
            shadow.execute(statement.text)
        except ServerError as error:
            raise DatabaseError(
                f"{database.name} {label}: statement {statement.index} fails on the shadow database: "
                f"MySQL error {error.errno}: {error.detail}",
                hint="the applied migrations do not run on an empty database of this server; "
                "check that statement (it may depend on data or on another database)",
            ) from error


def drop_shadow(settings: Settings, creator: Credentials, name: str) -> None:
    """Drop a shadow on a connection of its own: the one that built it may be cut mid-statement (Ctrl-C)."""
    if not _SHADOW_NAME.match(name):
        raise ValueError(f"refusing to drop {name}: not a shadow database name")
    with connect(settings.mysql, creator) as session:
        session.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)}")


def _drop_stale(session: Session, server_time: int) -> list[str]:
    """Drop shadows of killed runs: named like ours and older than :data:`STALE_SECONDS` by the server's clock."""
    dropped = []
    for (name,) in session.query("SHOW DATABASES LIKE %s", (SHADOW_PREFIX.replace("_", "\\_") + "%",)):
        match = _SHADOW_NAME.match(str(name))
        if match and server_time - int(match.group(1)) > STALE_SECONDS:
            session.execute(f"DROP DATABASE IF EXISTS {quote_identifier(str(name))}")
            dropped.append(str(name))
    return dropped


class ShadowDeniedError(DatabaseError):
    """No user at hand may create the shadow database: drift cannot be computed (not a failure of the schema)."""


def shadow_grant(user: str) -> str:
    """The GRANT that lets ``user`` make drift's shadow databases, and only those (``_`` escaped: no wildcard)."""
    pattern = SHADOW_PREFIX.replace("_", "\\_") + "%"
    return f"GRANT {SHADOW_PRIVILEGES} ON `{pattern}`.* TO '{user}'@'%'"


def _missing_right(
    settings: Settings, database: DatabaseSettings, root: Credentials | None, error: CreateDenied
) -> ShadowDeniedError:
    tried = " and ".join(f"{user} ({detail})" for user, detail in error.denials)
    without_root = "; MYSQL_ROOT_PASSWORD is not set, so the root user was not tried" if root is None else ""
    return ShadowDeniedError(
        f"{database.name}: drift needs a throwaway database {SHADOW_PREFIX}{database.key}_… on "
        f"{settings.mysql.host}:{settings.mysql.port}, and the CREATE privilege for it is missing: {tried}"
        + without_root,
        hint=f"as an administrator: {shadow_grant(database.user)} "
        "(drift creates and drops only databases named so), or set MYSQL_ROOT_PASSWORD",
        exit_code=ExitCode.DATABASE,
    )


# --------------------------------------------------------------------------- information_schema


@dataclass
class Schema:
    """A database as ``information_schema`` describes it; every value is the server's own text."""

    name: str
    tables: dict[str, dict[str, str | None]] = field(default_factory=dict)
    columns: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)
    indexes: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)
    foreign_keys: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)
    checks: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)
    triggers: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)


def describe_schema(session: Session, schema: str) -> Schema:
    """Read one schema's tables, columns, indexes, foreign keys, checks, views and triggers."""
    described = Schema(schema)
    ignored = {hist.HISTORY_TABLE}
    for table, kind, engine, collation, options, comment in session.query(
        "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT "
        "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
        (schema,),
    ):
        if table in ignored:
            continue
        described.tables[table] = {
            "type": "view" if "VIEW" in str(kind) else "table",
            "engine": _s(engine),
            "collation": _s(collation),
            "options": _s(options),
            "comment": _s(comment),
        }
    for table, definition in session.query(
        "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s", (schema,)
    ):
        if table in described.tables:
            described.tables[table]["definition"] = _unqualified(_s(definition), schema)
    _columns(session, described, ignored)
    _indexes(session, described, ignored)
    _foreign_keys(session, described, ignored)
    _checks(session, described, ignored)
    for name, event, timing, table, action in session.query(
        "SELECT TRIGGER_NAME, EVENT_MANIPULATION, ACTION_TIMING, EVENT_OBJECT_TABLE, ACTION_STATEMENT "
        "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s",
        (schema,),
    ):
        described.triggers.setdefault(table, {})[name] = {
            "event": f"{timing} {event}",
            "statement": _unqualified(_s(action), schema),
        }
    return described


def _s(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _unqualified(text: str | None, schema: str) -> str | None:
    """A definition with its own schema's qualifiers removed (the shadow's name is not the live one's)."""
    if text is None:
        return None
    return text.replace(f"`{schema}`.", "").replace(f"{schema}.", "")


def _columns(session: Session, described: Schema, ignored: set[str]) -> None:
    for row in session.query(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, CHARACTER_SET_NAME, "
        "COLLATION_NAME, COLUMN_COMMENT, GENERATION_EXPRESSION FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
        (described.name,),
    ):
        table, column, *values = (_s(value) for value in row)
        if table is None or column is None or table in ignored:
            continue
        kind, nullable, default, extra, charset, collation, comment, generated = values
        described.columns.setdefault(table, {})[column] = {
            "type": kind,
            "null": "NULL" if nullable == "YES" else "NOT NULL",
            "default": default,
            "extra": extra or None,
            "charset": charset,
            "collation": collation,
            "comment": comment or None,
            "generated": generated or None,
        }


def _indexes(session: Session, described: Schema, ignored: set[str]) -> None:
    extra = _index_extra_columns(session.server)
    parts: dict[tuple[str, str], list[str]] = {}
    for row in session.query(
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, COLLATION"
        + "".join(f", {column}" for column in extra)
        + " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        (described.name,),
    ):
        table, index, non_unique, kind, _, column, sub_part, order, *more = (_s(value) for value in row)
        if table is None or index is None or table in ignored:
            continue
        named = dict(zip(extra, more, strict=True))
        part = column if column is not None else f"({named.get('EXPRESSION')})"
        part += f"({sub_part})" if sub_part else ""
        part += " DESC" if order == "D" else ""
        parts.setdefault((table, index), []).append(part)
        entry = described.indexes.setdefault(table, {}).setdefault(index, {})
        entry["unique"] = "UNIQUE" if non_unique == "0" else None
        entry["type"] = kind
        for name in ("IGNORED", "IS_VISIBLE"):
            if name in named:
                entry[name.lower()] = named[name]
    for (table, index), columns in parts.items():
        described.indexes[table][index]["columns"] = f"({', '.join(columns)})"


def _index_extra_columns(server: ServerInfo) -> tuple[str, ...]:
    """Columns of STATISTICS that only some servers have: MySQL 8's EXPRESSION and IS_VISIBLE, MariaDB's IGNORED."""
    if server.is_mariadb:
        return ("IGNORED",) if server.version >= (10, 6, 0) else ()
    if server.version >= (8, 0, 13):
        return ("EXPRESSION", "IS_VISIBLE")
    return ("IS_VISIBLE",) if server.version >= (8, 0, 0) else ()


def _foreign_keys(session: Session, described: Schema, ignored: set[str]) -> None:
    columns: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for row in session.query(
        "SELECT r.TABLE_NAME, r.CONSTRAINT_NAME, r.UPDATE_RULE, r.DELETE_RULE, r.REFERENCED_TABLE_NAME, "
        "k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_COLUMN_NAME "
        "FROM information_schema.REFERENTIAL_CONSTRAINTS r JOIN information_schema.KEY_COLUMN_USAGE k "
        "ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME "
        "AND k.TABLE_NAME = r.TABLE_NAME "
        "WHERE r.CONSTRAINT_SCHEMA = %s ORDER BY r.TABLE_NAME, r.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        (described.name,),
    ):
        table, name, on_update, on_delete, referenced, column, schema, target = (_s(value) for value in row)
        if table is None or name is None or table in ignored:
            continue
        where = "" if schema in (None, described.name) else f"{schema}."
        columns.setdefault((table, name), []).append((column or "", f"{where}{referenced}", target or ""))
        described.foreign_keys.setdefault(table, {})[name] = {"on update": on_update, "on delete": on_delete}
    for (table, name), parts in columns.items():
        own = ", ".join(part[0] for part in parts)
        target = ", ".join(part[2] for part in parts)
        described.foreign_keys[table][name]["references"] = f"({own}) REFERENCES {parts[0][1]} ({target})"


def _checks(session: Session, described: Schema, ignored: set[str]) -> None:
    server = session.server
    if server.is_mariadb:
        if server.version < (10, 2, 0):
            return
        query = (
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = %s"
        )
    else:
        if server.version < (8, 0, 16):
            return  # MySQL parsed CHECK and ignored it before 8.0.16
        query = (
            "SELECT t.TABLE_NAME, c.CONSTRAINT_NAME, c.CHECK_CLAUSE FROM information_schema.TABLE_CONSTRAINTS t "
            "JOIN information_schema.CHECK_CONSTRAINTS c ON c.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA "
            "AND c.CONSTRAINT_NAME = t.CONSTRAINT_NAME WHERE t.CONSTRAINT_SCHEMA = %s AND t.CONSTRAINT_TYPE = 'CHECK'"
        )
    for table, name, clause in session.query(query, (described.name,)):
        if table in ignored:
            continue
        described.checks.setdefault(str(table), {})[str(name)] = {"clause": _unqualified(_s(clause), described.name)}


# --------------------------------------------------------------------------- the comparison


def compare_schemas(live: Schema, expected: Schema) -> list[SchemaDifference]:
    """Every difference, table by table: the table itself, then its columns, indexes, keys, checks, triggers."""
    differences: list[SchemaDifference] = []
    for table in sorted(set(live.tables) | set(expected.tables)):
        here, there = live.tables.get(table), expected.tables.get(table)
        kind: Kind = "view" if (here or there or {}).get("type") == "view" else "table"
        if here is None or there is None:
            differences.append(
                SchemaDifference(
                    table,
                    kind,
                    None,
                    "added" if there is None else "removed",
                    live=_column_count(live, table),
                    expected=_column_count(expected, table),
                )
            )
            continue
        attributes = _attributes(here, there)
        if attributes:
            differences.append(SchemaDifference(table, kind, None, "changed", attributes=attributes))
        differences += _members(table, "column", live.columns, expected.columns, _describe_column)
        differences += _members(table, "index", live.indexes, expected.indexes, _describe_index)
        differences += _members(table, "foreign key", live.foreign_keys, expected.foreign_keys, _describe_plain)
        differences += _members(table, "check", live.checks, expected.checks, _describe_plain)
        differences += _members(table, "trigger", live.triggers, expected.triggers, _describe_plain)
    return differences


def _column_count(schema: Schema, table: str) -> str | None:
    if table not in schema.tables:
        return None
    count = len(schema.columns.get(table, {}))
    return f"{count} column(s)" if schema.tables[table].get("type") == "table" else None


def _members(
    table: str,
    kind: Kind,
    live: Mapping[str, Mapping[str, Mapping[str, str | None]]],
    expected: Mapping[str, Mapping[str, Mapping[str, str | None]]],
    describe: Callable[[Mapping[str, str | None]], str],
) -> list[SchemaDifference]:
    here, there = live.get(table, {}), expected.get(table, {})
    differences = []
    for name in list(dict.fromkeys([*there, *here])):
        mine, theirs = here.get(name), there.get(name)
        shown: Kind = _index_kind(name, mine or theirs or {}) if kind == "index" else kind
        if mine is None and theirs is not None:
            differences.append(SchemaDifference(table, shown, name, "removed", expected=describe(theirs)))
        elif theirs is None and mine is not None:
            differences.append(SchemaDifference(table, shown, name, "added", live=describe(mine)))
        elif mine is not None and theirs is not None:
            attributes = _attributes(mine, theirs)
            if attributes:
                differences.append(
                    SchemaDifference(
                        table, shown, name, "changed", describe(mine), describe(theirs), attributes=attributes
                    )
                )
    return differences


def _attributes(
    live: Mapping[str, str | None], expected: Mapping[str, str | None]
) -> tuple[tuple[str, str | None, str | None], ...]:
    return tuple(
        (key, live.get(key), expected.get(key))
        for key in dict.fromkeys([*expected, *live])
        if live.get(key) != expected.get(key)
    )


def _index_kind(name: str, index: Mapping[str, str | None]) -> Kind:
    if name == "PRIMARY":
        return "primary key"
    return "unique key" if index.get("unique") else "index"


def _describe_column(column: Mapping[str, str | None]) -> str:
    text = f"{column['type']} {column['null']}"
    if column.get("default") is not None:
        text += f" DEFAULT {column['default']}"
    for key in ("extra", "generated"):
        if column.get(key):
            text += f" {column[key]}"
    return text


def _describe_index(index: Mapping[str, str | None]) -> str:
    return " ".join(part for part in (index.get("unique"), index.get("columns"), index.get("type")) if part)


def _describe_plain(values: Mapping[str, str | None]) -> str:
    return ", ".join(f"{key} {value}" for key, value in values.items() if value is not None)
