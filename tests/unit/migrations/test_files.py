"""Migration file names, normalised checksums and discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketctl.errors import ConfigError, ExitCode
from ticketctl.migrations.files import checksum, discover, normalise, parse_filename, read_migration

pytestmark = pytest.mark.unit

SQL = "CREATE TABLE a (\n  x INT\n);\nINSERT INTO a VALUES (1);\n"


def test_crlf_trailing_spaces_bom_and_final_blank_lines_do_not_change_the_checksum() -> None:
    variants = [
        SQL,
        SQL.replace("\n", "\r\n"),
        SQL.replace("\n", "\r"),
        "\ufeff" + SQL,
        SQL.replace("\n", "   \n"),
        SQL.replace("x INT\n", "x INT\t\n"),
        SQL + "\n\n   \n",
        SQL.rstrip("\n"),
    ]
    assert {checksum(text) for text in variants} == {checksum(SQL)}
    assert normalise(SQL.replace("\n", "\r\n")) == SQL


@pytest.mark.parametrize(
    "edited",
    [
        SQL.replace("VALUES (1)", "VALUES (2)"),
        SQL.replace("  x INT", "x INT"),  # leading whitespace is content
        SQL.replace("\n", "\n\n", 1),  # an inner blank line is content
        SQL + "-- a new comment\n",
    ],
)
def test_real_edits_change_the_checksum(edited: str) -> None:
    assert checksum(edited) != checksum(SQL)


def test_checksum_is_sha256_hex() -> None:
    assert checksum("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert len(checksum(SQL)) == 64


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("V001__initial_schema.sql", (1, "initial schema")),
        ("V12__add_seat_holds.sql", (12, "add seat holds")),
        ("V002_missing_underscore.sql", None),
        ("v002__lower_case.sql", None),
        ("V002__.sql", None),
        ("V002__with-dash.sql", None),
        ("R__repeatable.sql", None),
    ],
)
def test_parse_filename(name: str, parsed: tuple[int, str] | None) -> None:
    assert parse_filename(name) == parsed


def test_prefix_checksum_covers_statements_not_comments_between_them(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    first = folder / "V001__a.sql"
    first.write_text("CREATE TABLE a (x INT);\nCREATE TABLE b (x INT);\nCREATE TABLE c (x INT);\n")
    original = read_migration(first, "events", tmp_path)
    first.write_text("-- note\nCREATE TABLE a (x INT);\r\nCREATE TABLE b (x INT);\nCREATE TABLE c (y INT);\n")
    edited = read_migration(first, "events", tmp_path)
    assert original.checksum != edited.checksum
    assert original.prefix_checksum(2) == edited.prefix_checksum(2)
    assert original.prefix_checksum(3) != edited.prefix_checksum(3)
    assert original.prefix_checksum(4) is None
    assert [s.line for s in edited.statements] == [2, 3, 4]
    assert edited.script == "events/V001__a.sql"
    assert edited.where(edited.statements[1]).endswith("events/V001__a.sql:3")


def test_discover_orders_by_version_and_ignores_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "inventory"
    folder.mkdir()
    for name in ("V010__ten.sql", "V002__two.sql", "V001__one.sql"):
        (folder / name).write_text("SELECT 1;\n")
    (folder / "README.md").write_text("notes")
    found = discover(tmp_path, "inventory")
    assert [(m.version, m.description) for m in found] == [(1, "one"), (2, "two"), (10, "ten")]
    assert discover(tmp_path, "bookings") == []


def test_discover_refuses_duplicate_versions(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "V001__one.sql").write_text("SELECT 1;")
    (folder / "V1__again.sql").write_text("SELECT 1;")
    with pytest.raises(ConfigError, match=r"version 1 is also .*V001__one\.sql") as raised:
        discover(tmp_path, "events")
    assert raised.value.exit_code == ExitCode.CONFIG


def test_discover_refuses_a_misnamed_sql_file(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "V002_add_column.sql").write_text("SELECT 1;")
    with pytest.raises(ConfigError, match=r"V002_add_column\.sql: not a migration file name"):
        discover(tmp_path, "events")


def test_unterminated_quote_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "V001__bad.sql").write_text("SELECT 1;\n\nINSERT INTO t VALUES ('oops);\n")
    (migration,) = discover(tmp_path, "events")  # split on first use: a no-op migrate never lexes
    with pytest.raises(ConfigError, match=r"V001__bad\.sql:3: unterminated ' string"):
        _ = migration.statements


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "V001__latin1.sql").write_bytes(b"SELECT 1;\nSELECT 'caf\xe9';\n")
    with pytest.raises(ConfigError, match=r"V001__latin1\.sql:2: not valid UTF-8"):
        discover(tmp_path, "events")


def test_missing_schemas_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="schemas folder not found"):
        discover(tmp_path / "nope", "events")
