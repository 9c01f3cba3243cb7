"""Bulk loading: ``LOAD DATA LOCAL INFILE`` where the server allows it, else multi-row ``INSERT``.

``LOAD DATA LOCAL`` is the fastest way into MySQL from a client: one statement per
table and chunk, the rows as tab-separated text. It needs ``local_infile`` on both
sides: ticketctl enables it on its loading sessions only (the server names the file it
asks for, so a session that can send files runs nothing but these statements), and
the server must allow it — MariaDB does by default, MySQL 8 does not
(``local_infile=OFF``). Without it the rows go as ``INSERT … VALUES (…), (…)``
statements of up to :data:`INSERT_STATEMENT_BYTES`.

With ``LOCAL`` the server turns duplicate keys and bad values into warnings (it
cannot stop the client mid-file), so every load checks that each row arrived and no
warning was raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ticketctl.clients.mysql import quote_identifier
from ticketctl.data.tables import Kind, Table
from ticketctl.errors import DatabaseError

if TYPE_CHECKING:
    from ticketctl.clients.mysql import Session

Method = Literal["load-data", "insert"]
INSERT_STATEMENT_BYTES = 4 * 1024 * 1024  # under MariaDB's 16 MB max_allowed_packet, and MySQL 8's 64 MB
# The server refuses LOAD DATA LOCAL: 1148 "not allowed with this MySQL version" (both, older
# wording), 3948 "Loading local data is disabled" (MySQL 8), 4166 (MariaDB 10.6+).
LOCAL_INFILE_REFUSED = frozenset({1148, 3948, 4166})
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})
_SQL_ESCAPES = str.maketrans(
    {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\0": "\\0", "\x1a": "\\Z", '"': '\\"'}
)


def server_allows_local_infile(session: Session) -> bool:
    row = session.query_one("SELECT @@GLOBAL.local_infile")
    return bool(row and int(row[0]))


def tsv(table: Table, rows: Sequence[tuple[object, ...]]) -> bytes:
    """Rows as ``LOAD DATA``'s default text format: tab-separated, ``\\N`` for NULL, backslash escapes."""
    return _tsv_encoder(table)(rows).encode("utf-8")


@cache
def _tsv_encoder(table: Table) -> Callable[[Sequence[tuple[object, ...]]], str]:
    """A function that writes ``table``'s rows as TSV, made for its columns: one f-string per row.

    Why generated code: it is the inner loop of ``seed`` (a million seat rows), and one
    f-string with a test per column takes half the time of formatting the values one by
    one. The source is built from the table's declared columns only, never from data.
    """
    fields = []
    for index, kind in enumerate(table.kinds):
        value = f"escape(row[{index}])" if kind == "text" else f"row[{index}]"
        fields.append(f"{{NULL if row[{index}] is None else {value}}}")
    source = 'lambda rows: "".join([f"' + "\\t".join(fields) + '\\n" for row in rows])'
    encoder: Callable[[Sequence[tuple[object, ...]]], str] = eval(source, {"NULL": "\\N", "escape": _escape_tsv})
    return encoder


def _escape_tsv(value: object) -> str:
    return str(value).translate(_TSV_ESCAPES)


def sql_values(kinds: Sequence[Kind], row: tuple[object, ...]) -> str:
    """One ``(…)`` of an INSERT: numbers bare, strings quoted (escaped when they may need it), NULL."""
    parts: list[str] = []
    for kind, value in zip(kinds, row, strict=True):
        if value is None:
            parts.append("NULL")
        elif kind == "int":
            parts.append(str(int(value)))  # type: ignore[call-overload]
        elif kind == "safe":
            parts.append(f"'{value}'")
        else:
            parts.append("'" + str(value).translate(_SQL_ESCAPES) + "'")
    return "(" + ",".join(parts) + ")"


class Loader:
    """Loads rows into the tables of one database through one session."""

    method: Method

    def __init__(self, session: Session):
        self.session = session

    def load(self, table: Table, rows: Sequence[tuple[object, ...]]) -> int:
        raise NotImplementedError


class LoadDataLoader(Loader):
    method: Method = "load-data"

    def __init__(self, session: Session, workdir: Path):
        super().__init__(session)
        self.workdir = workdir

    def load(self, table: Table, rows: Sequence[tuple[object, ...]]) -> int:
        if not rows:
            return 0
        path = self.workdir / f"{table.name}.tsv"
        path.write_bytes(tsv(table, rows))
        try:
            loaded = self.session.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {quote_identifier(table.name)} CHARACTER SET utf8mb4 "
                f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' {table.column_list}",
                (str(path),),
            )
        finally:
            path.unlink(missing_ok=True)
        _check_loaded(self.session, table, loaded, len(rows))
        return loaded


class InsertLoader(Loader):
    method: Method = "insert"

    def load(self, table: Table, rows: Sequence[tuple[object, ...]]) -> int:
        prefix = f"INSERT INTO {quote_identifier(table.name)} {table.column_list} VALUES "
        kinds = table.kinds
        loaded = 0
        values = (sql_values(kinds, row) for row in rows)
        while True:
            statement: list[str] = []
            size = len(prefix)
            for value in values:
                statement.append(value)
                size += len(value) + 1
                if size >= INSERT_STATEMENT_BYTES:
                    break
            if not statement:
                break
            loaded += self.session.execute(prefix + ",".join(statement))
        _check_loaded(self.session, table, loaded, len(rows))
        return loaded


def _check_loaded(session: Session, table: Table, loaded: int, expected: int) -> None:
    warnings = session.query("SHOW WARNINGS LIMIT 1")
    if loaded == expected and not warnings:
        return
    detail = f": {warnings[0][2]}" if warnings else ""
    raise DatabaseError(
        f"{session.where}: {table.name}: {loaded} of {expected} rows loaded{detail}",
        hint="the table held rows that seed did not expect: run 'ticketctl seed --replace' (or --replace-all)",
    )
