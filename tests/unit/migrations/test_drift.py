"""Schema drift without a server: what the history says was applied, and the comparison of two schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ticketctl.config.settings import DatabaseSettings
from ticketctl.errors import MigrationError
from ticketctl.migrations.drift import Schema, applied_statements, compare_schemas, shadow_name
from ticketctl.migrations.files import MigrationFile, read_migration
from ticketctl.migrations.history import FAILED, SUCCESS, TYPE_BASELINE, TYPE_SQL, HistoryRow

EVENTS = DatabaseSettings("events", "events_db", "events_app")


def migration(tmp_path: Path, name: str, sql: str) -> MigrationFile:
    folder = tmp_path / "events"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(sql, encoding="utf-8")
    return read_migration(folder / name, "events", tmp_path)


def row(found: MigrationFile, *, status: str = SUCCESS, applied: int | None = None, kind: str = TYPE_SQL) -> HistoryRow:
    total = len(found.statements)
    return HistoryRow(
        version=found.version,
        description=found.description,
        type=kind,
        script=found.script,
        checksum=found.checksum,
        applied_checksum=None,
        statements_applied=total if applied is None else applied,
        statements_total=total,
        status=status,
        out_of_order=False,
        error=None,
        failed_statement=None,
        failed_at=None,
        installed_by="t",
        host="h",
        tool_version="0",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        finished_at=None,
        duration_ms=None,
    )


def test_applied_versions_whole_and_the_applied_part_of_a_failed_one(tmp_path: Path) -> None:
    first = migration(tmp_path, "V001__a.sql", "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n")
    second = migration(tmp_path, "V002__c.sql", "CREATE TABLE c (id INT);\nINSERT INTO nowhere VALUES (1);\n")
    pending = migration(tmp_path, "V003__d.sql", "CREATE TABLE d (id INT);\n")
    steps, notes = applied_statements(
        EVENTS, [first, second, pending], [row(first), row(second, status=FAILED, applied=1)]
    )
    assert [(label, [s.text for s in statements]) for label, statements in steps] == [
        ("V001", ["CREATE TABLE a (id INT)", "CREATE TABLE b (id INT)"]),
        ("V002 (1 of 2 statements, failed)", ["CREATE TABLE c (id INT)"]),
    ]
    assert notes == []


def test_files_at_or_below_a_baseline_are_taken_as_applied(tmp_path: Path) -> None:
    first = migration(tmp_path, "V001__a.sql", "CREATE TABLE a (id INT);\n")
    steps, _ = applied_statements(EVENTS, [first], [row(first, kind=TYPE_BASELINE)])
    assert [label for label, _ in steps] == ["V001 (at or below the baseline)"]


def test_an_edited_applied_file_is_used_as_it_is_now_and_said_so(tmp_path: Path) -> None:
    first = migration(tmp_path, "V001__a.sql", "CREATE TABLE a (id INT);\n")
    recorded = row(first)
    edited = migration(tmp_path, "V001__a.sql", "CREATE TABLE a (id BIGINT);\n")
    _, notes = applied_statements(EVENTS, [edited], [recorded])
    assert notes == [f"{edited.display} changed since it was applied: the shadow uses it as it is now"]


def test_a_recorded_version_without_its_file_cannot_be_reproduced(tmp_path: Path) -> None:
    first = migration(tmp_path, "V001__a.sql", "CREATE TABLE a (id INT);\n")
    with pytest.raises(MigrationError, match="V001 is recorded as applied but its file is gone"):
        applied_statements(EVENTS, [], [row(first)])


@pytest.mark.parametrize(
    "sql",
    ["INSERT INTO events_db.a VALUES (1);\n", "INSERT INTO `bookings_db`.`a` VALUES (1);\n", "USE events_db;\n"],
)
def test_a_statement_that_reaches_a_database_of_the_stack_is_refused(tmp_path: Path, sql: str) -> None:
    found = migration(tmp_path, "V001__a.sql", sql)
    with pytest.raises(MigrationError, match=r"V001__a.sql:1: the statement names a database of the stack"):
        applied_statements(EVENTS, [found], [row(found)], ["events_db", "bookings_db"])


def test_table_dot_column_is_not_a_database_name(tmp_path: Path) -> None:
    found = migration(tmp_path, "V001__a.sql", "CREATE VIEW v AS SELECT e.id FROM events e;\n")
    steps, _ = applied_statements(EVENTS, [found], [row(found)], ["events_db"])
    assert len(steps) == 1


def test_shadow_names_are_recognisable_and_dated() -> None:
    name = shadow_name("inventory", 1_796_000_000)
    assert name.startswith("ticketctl_shadow_inventory_1796000000_") and len(name) <= 64


def schema(name: str, **tables: dict[str, dict[str, str | None]]) -> Schema:
    described = Schema(name)
    for table, columns in tables.items():
        described.tables[table] = {"type": "table", "engine": "InnoDB", "collation": "utf8mb4_unicode_ci"}
        described.columns[table] = columns
    return described


def column(kind: str, *, null: str = "NULL", default: str | None = None) -> dict[str, str | None]:
    return {"type": kind, "null": null, "default": default, "extra": None}


def test_every_kind_of_difference_by_table_and_column() -> None:
    expected = schema("shadow", events={"id": column("bigint(20)", null="NOT NULL"), "status": column("varchar(10)")})
    expected.indexes["events"] = {"idx_status": {"unique": None, "type": "BTREE", "columns": "(status)"}}
    live = schema(
        "events_db",
        events={
            "id": column("bigint(20)", null="NOT NULL"),
            "status": column("varchar(10)", default="'NEW'"),
            "note": column("varchar(200)"),
        },
        audit={"id": column("int(11)", null="NOT NULL")},
    )
    live.indexes["events"] = {"uk_note": {"unique": "UNIQUE", "type": "BTREE", "columns": "(note)"}}
    described = [difference.describe() for difference in compare_schemas(live, expected)]
    assert described == [
        "table audit exists live but not in the applied migrations: 1 column(s)",
        "events: column status: default 'NEW' live, (none) expected",
        "events: column note exists live but not in the applied migrations: varchar(200) NULL",
        "events: index idx_status is missing live; the applied migrations create it: (status) BTREE",
        "events: unique key uk_note exists live but not in the applied migrations: UNIQUE (note) BTREE",
    ]


def test_identical_schemas_have_no_difference() -> None:
    one = schema("a", t={"id": column("int(11)")})
    other = schema("b", t={"id": column("int(11)")})
    assert compare_schemas(one, other) == []
