"""``migrate lint``: offline checks of migration files, before any server sees them.

The checks catch what fails, or silently differs, on one of the two servers the
project runs on (MySQL 8 in the stack, MariaDB 10.11 in the tests):

* ``reserved-word``: a table, column or index name that the target servers
  reserve, written bare (the original inventory DDL's ``row_number VARCHAR(10)``);
* ``zero-date``: ``'0000-00-00'`` literals, refused by the strict ``sql_mode``;
* ``engine`` / ``charset`` / ``collation``: every table is ``ENGINE=InnoDB`` with
  ``utf8mb4``, and no collation exists on one server only
  (``utf8mb4_0900_*`` is MySQL-only, ``utf8mb4_uca1400_*`` MariaDB-only);
* ``mariadb-only``: ``ADD COLUMN IF NOT EXISTS`` and its relatives, ``CREATE OR
  REPLACE TABLE`` — syntax errors on MySQL 8;
* ``cross-database``: a foreign key or ``USE`` that reaches another database;
* ``transaction``: ``START TRANSACTION``/``COMMIT``/``ROLLBACK`` in a file — the
  runner commits after each statement and records progress itself;
* ``invisible-character``: a byte-order mark, zero-width or no-break space in the
  code (outside quotes), which the server refuses with error 1064. The mark an
  editor puts at the start of a file is not such a case: files are read as the
  runner reads them (:func:`~ticketctl.migrations.files.decode_sql`), without it.

JSON columns are fine on both (an alias of ``LONGTEXT`` with a check on MariaDB).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ticketctl.config.settings import Settings
from ticketctl.migrations.files import NotUtf8Error, decode_sql, display_path, parse_filename
from ticketctl.migrations.lexer import SqlSyntaxError, Statement, Token, TokenKind, split_statements
from ticketctl.migrations.reserved import MARIADB_RESERVED, MYSQL_RESERVED, reserved_by

SERVERS = ("mysql", "mariadb")
# Characters an editor or a copy from a web page slips in; MySQL takes none of them for whitespace.
INVISIBLE_CHARACTERS = {
    "\ufeff": "a byte-order mark (U+FEFF)",
    "\u200b": "a zero-width space (U+200B)",
    "\u2060": "a word joiner (U+2060)",
    "\u00a0": "a no-break space (U+00A0)",
}
_ELEMENT_KEYWORDS = frozenset(
    {"CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK", "PERIOD"}
)
_KEY_KEYWORDS = frozenset({"PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL"})
_ALTER_ACTIONS = frozenset({"ADD", "DROP", "MODIFY", "CHANGE", "ALTER", "RENAME"})
_TRANSACTION_WORDS = {
    ("START", "TRANSACTION"),
    ("BEGIN",),
    ("BEGIN", "WORK"),
    ("COMMIT",),
    ("COMMIT", "WORK"),
    ("ROLLBACK",),
    ("ROLLBACK", "WORK"),
}


@dataclass(frozen=True)
class LintFinding:
    """One problem in a file: where, which rule, and what to do."""

    path: str
    line: int
    rule: str
    message: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.path, "line": self.line, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class LintReport:
    files: tuple[str, ...]
    findings: tuple[LintFinding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "files": list(self.files),
            "findings": [finding.as_dict() for finding in self.findings],
        }


def lint_migrations(
    paths: Sequence[str | Path] | None = None,
    *,
    settings: Settings,
    databases: Sequence[str] | None = None,
    servers: Sequence[str] = SERVERS,
) -> LintReport:
    """Lint files or folders; by default every migration of the selected databases (all by default)
    in the schemas folder that ``migrate`` reads (the schemas_dir setting)."""
    if paths:
        return lint_paths([Path(path) for path in paths], servers=servers)
    from ticketctl.migrations.runner import schemas_folder, select_databases

    folder = schemas_folder(settings)
    keys = [database.key for database in select_databases(settings, databases)]
    return lint_paths([folder / key for key in keys if (folder / key).is_dir()], servers=servers)


def lint_paths(paths: Sequence[Path], *, servers: Sequence[str] = SERVERS) -> LintReport:
    """Lint files, and every ``.sql`` file under folders (whose names must be migration names)."""
    files: list[str] = []
    findings: list[LintFinding] = []
    for path in paths:
        if path.is_dir():
            for file in sorted(path.rglob("*.sql")):
                files.append(display_path(file))
                if parse_filename(file.name) is None:
                    findings.append(
                        LintFinding(
                            display_path(file), 1, "file-name", "not named V<number>__<description>.sql, so never run"
                        )
                    )
                findings.extend(lint_file(file, servers=servers))
        else:
            files.append(display_path(path))
            findings.extend(lint_file(path, servers=servers))
    return LintReport(tuple(files), tuple(findings))


def lint_file(path: Path, *, servers: Sequence[str] = SERVERS) -> list[LintFinding]:
    display = display_path(path)
    try:
        text = decode_sql(path.read_bytes(), display)
    except OSError as error:
        return [LintFinding(display, 1, "read", f"cannot read: {error.strerror}")]
    except NotUtf8Error as error:
        return [LintFinding(display, error.line, "read", "not valid UTF-8; save the file as UTF-8")]
    return lint_text(text, display, servers=servers)


def lint_text(text: str, path: str = "<sql>", *, servers: Sequence[str] = SERVERS) -> list[LintFinding]:
    """Every finding in one file's text, in line order."""
    try:
        statements = split_statements(text)
    except SqlSyntaxError as error:
        return [LintFinding(path, error.line, "syntax", error.message)]
    reserved = _reserved_words(servers)
    findings: list[LintFinding] = []
    for statement in statements:
        for line, rule, message in _check_statement(statement, reserved):
            findings.append(LintFinding(path, line, rule, message))
    return sorted(findings, key=lambda finding: finding.line)


def _reserved_words(servers: Sequence[str]) -> frozenset[str]:
    words: set[str] = set()
    if "mysql" in servers:
        words |= MYSQL_RESERVED
    if "mariadb" in servers:
        words |= MARIADB_RESERVED
    return frozenset(words)


Problem = tuple[int, str, str]


def _check_statement(statement: Statement, reserved: frozenset[str]) -> Iterable[Problem]:
    tokens = list(statement.tokens)
    words = statement.words
    yield from _check_invisible(tokens)
    yield from _check_literals(tokens)
    yield from _check_charsets(tokens)
    yield from _check_cross_database(tokens)
    if words[:1] == ["USE"]:
        yield (statement.line, "cross-database", "USE switches database; the runner already uses the right one")
    if tuple(words) in _TRANSACTION_WORDS:
        yield (
            statement.line,
            "transaction",
            f"{' '.join(words)} in a migration: the runner commits after each statement and records progress",
        )
    if words[:2] == ["CREATE", "TABLE"] or words[:3] == ["CREATE", "TEMPORARY", "TABLE"]:
        yield from _check_create_table(statement, tokens, reserved)
    elif words[:4] == ["CREATE", "OR", "REPLACE", "TABLE"]:
        yield (statement.line, "mariadb-only", "CREATE OR REPLACE TABLE does not exist on MySQL 8; DROP and CREATE")
    elif words[:2] == ["ALTER", "TABLE"] or words[:3] == ["ALTER", "IGNORE", "TABLE"]:
        yield from _check_alter_table(tokens, reserved)
    elif words[:1] == ["CREATE"] and "INDEX" in words[:3]:
        yield from _check_create_index(tokens, reserved)
    elif words[:2] == ["DROP", "INDEX"] and words[2:4] == ["IF", "EXISTS"]:
        yield (statement.line, "mariadb-only", "DROP INDEX IF EXISTS does not exist on MySQL 8")


# --------------------------------------------------------------------------- single tokens


def _check_invisible(tokens: list[Token]) -> Iterable[Problem]:
    for token in tokens:
        if token.kind in (TokenKind.STRING, TokenKind.IDENTIFIER):
            continue
        found = next((name for char, name in INVISIBLE_CHARACTERS.items() if char in token.text), None)
        if found is not None:
            yield (
                token.line,
                "invisible-character",
                f"{found} in {token.text.strip()!r}: the server refuses it (error 1064); delete it",
            )


def _check_literals(tokens: list[Token]) -> Iterable[Problem]:
    for token in tokens:
        if token.kind is TokenKind.STRING and token.text[1:].startswith("0000-00-00"):
            yield (
                token.line,
                "zero-date",
                f"zero date {token.text}: refused by the strict sql_mode (NO_ZERO_DATE); use NULL",
            )


def _check_charsets(tokens: list[Token]) -> Iterable[Problem]:
    for index, token in enumerate(tokens):
        if token.is_word("COLLATE"):
            name = _value_after(tokens, index + 1)
            if name is None:
                continue
            lower = name.text.strip("'\"`").lower()
            if lower.startswith("utf8mb4_0900"):
                yield (
                    name.line,
                    "collation",
                    f"collation {lower} exists on MySQL 8 only, not on MariaDB; use utf8mb4_unicode_ci",
                )
            elif lower.startswith("utf8mb4_uca1400"):
                yield (
                    name.line,
                    "collation",
                    f"collation {lower} exists on MariaDB 10.10+ only, not on MySQL; use utf8mb4_unicode_ci",
                )
            elif not lower.startswith("utf8mb4_"):
                yield (name.line, "collation", f"collation {lower} is not a utf8mb4 collation; use utf8mb4_unicode_ci")
        elif token.is_word("CHARSET") or (
            token.is_word("SET") and index > 0 and tokens[index - 1].is_word("CHARACTER")
        ):
            name = _value_after(tokens, index + 1)
            if name is not None and name.text.strip("'\"`").lower() != "utf8mb4":
                yield (name.line, "charset", f"character set {name.text} is not utf8mb4; use utf8mb4 throughout")


def _value_after(tokens: list[Token], index: int) -> Token | None:
    """The value of ``NAME [=] value``."""
    if index < len(tokens) and tokens[index].text == "=":
        index += 1
    return tokens[index] if index < len(tokens) else None


def _check_cross_database(tokens: list[Token]) -> Iterable[Problem]:
    for index, token in enumerate(tokens):
        if token.is_word("REFERENCES") and index + 2 < len(tokens) and tokens[index + 2].text == ".":
            database = tokens[index + 1].text
            yield (
                token.line,
                "cross-database",
                f"foreign key into database {database}: each service owns its database; no keys across them",
            )


# --------------------------------------------------------------------------- CREATE TABLE


def _check_create_table(statement: Statement, tokens: list[Token], reserved: frozenset[str]) -> Iterable[Problem]:
    index = next(i for i, token in enumerate(tokens) if token.is_word("TABLE")) + 1
    if _words_at(tokens, index, "IF", "NOT", "EXISTS"):
        index += 3
    name_index = index
    yield from _check_name(tokens, name_index, reserved, "table")
    while index < len(tokens) and tokens[index].text != "(":
        if tokens[index].is_word("LIKE", "SELECT", "AS"):
            return  # CREATE TABLE … LIKE / AS SELECT: options come from elsewhere
        index += 1
    if index >= len(tokens):
        return
    close = _matching_paren(tokens, index)
    for element in _elements(tokens, index + 1, close):
        yield from _check_element(tokens, element, reserved)
    options = tokens[close + 1 :]
    table = tokens[name_index].text if name_index < len(tokens) else "?"
    if statement.words[1] != "TEMPORARY":
        yield from _check_table_options(statement, options, table)


def _check_table_options(statement: Statement, options: list[Token], table: str) -> Iterable[Problem]:
    engine_index = next((i for i, token in enumerate(options) if token.is_word("ENGINE")), None)
    if engine_index is None:
        yield (statement.line, "engine", f"table {table} has no ENGINE=InnoDB; the server default may differ")
    else:
        engine = _value_after(options, engine_index + 1)
        if engine is not None and engine.upper != "INNODB":
            yield (engine.line, "engine", f"table {table} uses ENGINE={engine.text}; use InnoDB (transactions, MVCC)")
    has_charset = any(
        token.is_word("CHARSET") or (token.is_word("SET") and i > 0 and options[i - 1].is_word("CHARACTER"))
        for i, token in enumerate(options)
    )
    if not has_charset:
        yield (
            statement.line,
            "charset",
            f"table {table} has no DEFAULT CHARSET=utf8mb4; the server default may be latin1",
        )


def _check_element(tokens: list[Token], element: tuple[int, int], reserved: frozenset[str]) -> Iterable[Problem]:
    """One column or key definition inside CREATE TABLE ( … ) or after ALTER TABLE … ADD."""
    start, end = element
    if start >= end:
        return
    first = tokens[start]
    if first.is_word(*_ELEMENT_KEYWORDS):
        yield from _check_key_definition(tokens, start, end, reserved)
    else:
        yield from _check_name(tokens, start, reserved, "column")


def _check_key_definition(tokens: list[Token], start: int, end: int, reserved: frozenset[str]) -> Iterable[Problem]:
    index = start
    if tokens[index].is_word("CONSTRAINT"):
        index += 1
        if index < end and not tokens[index].is_word("PRIMARY", "UNIQUE", "FOREIGN", "CHECK"):
            index += 1  # the constraint's own name
    if index < end and tokens[index].is_word("FOREIGN", "CHECK"):
        return
    while index < end and tokens[index].is_word(*_KEY_KEYWORDS):
        index += 1
    if index < end and tokens[index].text != "(" and not tokens[index].is_word("USING"):
        yield from _check_name(tokens, index, reserved, "index")
    while index < end and tokens[index].text != "(":
        index += 1
    if index >= end:
        return
    close = _matching_paren(tokens, index)
    for part_start, _part_end in _elements(tokens, index + 1, close):
        yield from _check_name(tokens, part_start, reserved, "column")


def _check_name(tokens: list[Token], index: int, reserved: frozenset[str], what: str) -> Iterable[Problem]:
    """A bare reserved word where a name belongs (not after a '.', where any word is a name)."""
    if index >= len(tokens):
        return
    token = tokens[index]
    if token.kind is not TokenKind.WORD or token.upper not in reserved:
        return
    servers = ", ".join(reserved_by(token.text))
    yield (
        token.line,
        "reserved-word",
        f"{what} name {token.text} is a reserved word ({servers}); quote it as `{token.text}`",
    )


# --------------------------------------------------------------------------- ALTER TABLE, CREATE INDEX


def _check_alter_table(tokens: list[Token], reserved: frozenset[str]) -> Iterable[Problem]:
    index = next(i for i, token in enumerate(tokens) if token.is_word("TABLE")) + 1
    yield from _check_name(tokens, index, reserved, "table")
    for start, end in _elements(tokens, index + 1, len(tokens)):
        yield from _check_alter_action(tokens, start, end, reserved)


def _check_alter_action(tokens: list[Token], start: int, end: int, reserved: frozenset[str]) -> Iterable[Problem]:
    index = start
    # the first element also holds the table name: skip to the first action word
    while index < end and not tokens[index].is_word(*_ALTER_ACTIONS):
        index += 1
    if index >= end:
        return
    action = tokens[index].upper
    index += 1
    target = ""
    if index < end and tokens[index].is_word("COLUMN", "INDEX", "KEY", "CONSTRAINT", "PARTITION"):
        target = tokens[index].upper
        index += 1
    if _words_at(tokens, index, "IF", "NOT", "EXISTS") or _words_at(tokens, index, "IF", "EXISTS"):
        clause = "IF NOT EXISTS" if tokens[index + 1].is_word("NOT") else "IF EXISTS"
        yield (
            tokens[index].line,
            "mariadb-only",
            f"{action} {target or 'COLUMN'} {clause} exists on MariaDB only and is a syntax error on MySQL 8; "
            "write plain DDL: the runner applies each version once",
        )
        return
    if target in ("CONSTRAINT", "PARTITION"):
        return
    if action == "ADD":
        if target in ("INDEX", "KEY"):
            yield from _check_key_definition(tokens, index - 1, end, reserved)
        elif index < end and tokens[index].is_word(*_ELEMENT_KEYWORDS):
            yield from _check_key_definition(tokens, index, end, reserved)
        elif index < end and tokens[index].text == "(":
            close = _matching_paren(tokens, index)
            for element in _elements(tokens, index + 1, close):
                yield from _check_element(tokens, element, reserved)
        else:
            yield from _check_name(tokens, index, reserved, "column")
    elif action == "CHANGE" and target in ("", "COLUMN"):
        yield from _check_name(tokens, index + 1, reserved, "column")
    elif action == "MODIFY" and target in ("", "COLUMN"):
        yield from _check_name(tokens, index, reserved, "column")
    elif action == "RENAME" and target == "COLUMN":
        yield from _check_name(tokens, index + 2, reserved, "column")


def _check_create_index(tokens: list[Token], reserved: frozenset[str]) -> Iterable[Problem]:
    index = next(i for i, token in enumerate(tokens) if token.is_word("INDEX")) + 1
    if _words_at(tokens, index, "IF", "NOT", "EXISTS"):
        yield (tokens[index].line, "mariadb-only", "CREATE INDEX IF NOT EXISTS is a syntax error on MySQL 8")
        return
    yield from _check_name(tokens, index, reserved, "index")
    while index < len(tokens) and tokens[index].text != "(":
        index += 1
    if index < len(tokens):
        close = _matching_paren(tokens, index)
        for part_start, _part_end in _elements(tokens, index + 1, close):
            yield from _check_name(tokens, part_start, reserved, "column")


# --------------------------------------------------------------------------- token helpers


def _words_at(tokens: list[Token], index: int, *words: str) -> bool:
    return all(
        index + offset < len(tokens) and tokens[index + offset].is_word(word) for offset, word in enumerate(words)
    )


def _matching_paren(tokens: list[Token], open_index: int) -> int:
    depth = 0
    for index in range(open_index, len(tokens)):
        if tokens[index].text == "(":
            depth += 1
        elif tokens[index].text == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(tokens)


def _elements(tokens: list[Token], start: int, end: int) -> list[tuple[int, int]]:
    """Split ``tokens[start:end]`` at top-level commas into ``(start, end)`` ranges."""
    elements: list[tuple[int, int]] = []
    depth = 0
    element_start = start
    for index in range(start, end):
        text = tokens[index].text
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif text == "," and depth == 0:
            elements.append((element_start, index))
            element_start = index + 1
    elements.append((element_start, end))
    return elements
