"""Migration files: discovery, naming, normalised checksums and statements.

A database's migrations live in ``<schemas dir>/<database key>/`` and are
named like Flyway's versioned migrations: ``V001__initial_schema.sql`` is
version 1, described as "initial schema". Any other ``.sql`` name there is an
error rather than a file silently skipped.

The checksum is the SHA-256 of the file's *normalised* text: line endings
become ``\\n``, trailing whitespace and trailing blank lines are dropped and a
UTF-8 byte-order mark is ignored. A CRLF checkout or an editor that trims
spaces therefore does not count as an edit; any other change does.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ticketctl.errors import ConfigError
from ticketctl.migrations.lexer import SqlSyntaxError, Statement, split_statements

FILENAME_RE = re.compile(r"^V(?P<version>[0-9]+)__(?P<description>[A-Za-z0-9][A-Za-z0-9_]*)\.sql$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
BYTE_ORDER_MARK = "\ufeff"


def normalise(text: str) -> str:
    """The text that checksums are taken of: LF line ends, no trailing whitespace, no BOM."""
    text = text.removeprefix(BYTE_ORDER_MARK)
    lines = [line.rstrip() for line in _LINE_BREAK.split(text)]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def checksum(text: str) -> str:
    """SHA-256 (hex) of the normalised text."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def statements_checksum(statements: Sequence[Statement]) -> str:
    """SHA-256 of a run of statements: what a partly applied migration is compared by."""
    digest = hashlib.sha256(f"{len(statements)}\n".encode())
    for statement in statements:
        digest.update(normalise(statement.text).encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True)
class MigrationFile:
    """One versioned migration file of one database, read and split."""

    database: str  # the database key: events, inventory or bookings
    version: int
    description: str
    path: Path
    script: str  # the path relative to the schemas folder, as recorded in the history
    checksum: str
    text: str = field(repr=False)

    @cached_property
    def statements(self) -> tuple[Statement, ...]:
        """The file's statements, split on first use: a no-op migrate only compares checksums."""
        try:
            return tuple(split_statements(self.text))
        except SqlSyntaxError as error:
            raise ConfigError(
                f"{self.display}:{error.line}: {error.message}",
                hint="close the quote or comment that starts on that line",
            ) from error

    @property
    def display(self) -> str:
        """The file's path for messages: relative to the working directory when inside it."""
        return display_path(self.path)

    @property
    def label(self) -> str:
        return f"V{self.version:03d}"

    def where(self, statement: Statement) -> str:
        """``file:line`` of a statement, for error messages."""
        return f"{self.display}:{statement.line}"

    def prefix_checksum(self, count: int) -> str | None:
        """Checksum of the first ``count`` statements; None when the file has fewer."""
        if count > len(self.statements):
            return None
        return statements_checksum(self.statements[:count])


def display_path(path: Path) -> str:
    """Relative to the working directory when the file is under it, else absolute."""
    absolute = path.absolute()
    cwd = Path.cwd()
    return os.path.relpath(absolute, cwd) if absolute.is_relative_to(cwd) else str(absolute)


def parse_filename(name: str) -> tuple[int, str] | None:
    """``V001__initial_schema.sql`` → ``(1, "initial schema")``; None for other names."""
    match = FILENAME_RE.match(name)
    if match is None:
        return None
    return int(match.group("version")), match.group("description").replace("_", " ")


class NotUtf8Error(ConfigError):
    """A migration file that is not UTF-8; ``line`` is where the first bad byte is."""

    def __init__(self, display: str, line: int):
        super().__init__(
            f"{display}:{line}: not valid UTF-8", hint="save the file as UTF-8 (utf8mb4 is stored as UTF-8)"
        )
        self.line = line


def decode_sql(raw: bytes, display: str) -> str:
    """A migration's SQL as the server gets it: UTF-8 without the byte-order mark an editor may put first.

    The runner, ``plan`` and ``lint`` all read files through here, so ``lint`` sees what the server will see.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotUtf8Error(display, raw[: error.start].count(b"\n") + 1) from error
    return text.removeprefix(BYTE_ORDER_MARK)


def read_migration(path: Path, database: str, schemas_dir: Path) -> MigrationFile:
    """Read, checksum and split one migration file; errors name the file and line."""
    parsed = parse_filename(path.name)
    if parsed is None:
        raise ConfigError(
            f"{display_path(path)}: not a migration file name",
            hint="name migrations V<number>__<description>.sql, for example V002__add_seat_holds.sql",
        )
    version, description = parsed
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{display_path(path)}: cannot read: {error.strerror}", hint="check the file") from error
    text = decode_sql(raw, display_path(path))
    return MigrationFile(
        database=database,
        version=version,
        description=description,
        path=path,
        script=path.relative_to(schemas_dir).as_posix() if path.is_relative_to(schemas_dir) else path.name,
        checksum=checksum(text),
        text=text,
    )


def discover(schemas_dir: Path, database: str) -> list[MigrationFile]:
    """Every migration of one database, ordered by version; duplicates and bad names are errors."""
    if not schemas_dir.is_dir():
        raise ConfigError(
            f"{display_path(schemas_dir)}: schemas folder not found",
            hint="pass --schemas-dir with a folder holding events/, inventory/ and bookings/",
        )
    folder = schemas_dir / database
    if not folder.is_dir():
        return []
    migrations: dict[int, MigrationFile] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() != ".sql":
            continue
        migration = read_migration(path, database, schemas_dir)
        other = migrations.get(migration.version)
        if other is not None:
            raise ConfigError(
                f"{migration.display}: version {migration.version} is also {other.display}",
                hint="give each migration of a database its own version number",
            )
        migrations[migration.version] = migration
    return [migrations[version] for version in sorted(migrations)]
