"""``migrate lint``: each rule catches its problem at the right line, and the shipped schemas are clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ORIGINAL_DDL
from ticketctl.config.resources import schemas_dir
from ticketctl.migrations.lint import lint_file, lint_paths, lint_text

pytestmark = pytest.mark.unit

GOOD_OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"


def rules(sql: str, servers: tuple[str, ...] = ("mysql", "mariadb")) -> list[tuple[int, str]]:
    return [(finding.line, finding.rule) for finding in lint_text(sql, "x.sql", servers=servers)]


def test_original_inventory_ddl_row_number_is_caught_at_its_line() -> None:
    findings = [f for f in lint_paths([ORIGINAL_DDL / "inventory.sql"]).findings if f.rule == "reserved-word"]
    assert [(f.where, f.message) for f in findings] == [
        (
            f"{_display(ORIGINAL_DDL / 'inventory.sql')}:9",
            "column name row_number is a reserved word (MySQL 8.0.2+, MariaDB 10.7+); quote it as `row_number`",
        )
    ]


def test_seed_tables_lack_engine_and_charset() -> None:
    report = lint_paths([ORIGINAL_DDL / "events.sql"])
    assert sorted({(f.line, f.rule) for f in report.findings}) == [
        (4, "charset"),
        (4, "engine"),
        (20, "charset"),
        (20, "engine"),
    ]


def test_shipped_schemas_are_clean() -> None:
    report = lint_paths([schemas_dir()])
    assert report.findings == ()
    assert len(report.files) == 4  # V001 of each database, V002 of events


def test_quoted_reserved_word_and_qualified_name_pass() -> None:
    sql = f"CREATE TABLE t (`row_number` INT, `rank` INT, INDEX idx_r (`row_number`)) {GOOD_OPTIONS};"
    assert rules(sql) == []


def test_reserved_words_in_every_name_position() -> None:
    sql = (
        "CREATE TABLE `order` (\n"
        "  id INT,\n"
        "  rank INT,\n"  # 3
        "  KEY window (id),\n"  # 4: index name
        "  UNIQUE KEY uk (id, groups)\n"  # 5: key part
        f") {GOOD_OPTIONS};\n"
        "ALTER TABLE t ADD COLUMN lateral INT, CHANGE old_name over INT,\n"  # 7: two
        "  MODIFY `ok` INT, RENAME COLUMN a TO rows;\n"  # 8
        "CREATE INDEX lead ON t (id);\n"  # 9
        "CREATE TABLE interval (x INT) " + GOOD_OPTIONS + ";\n"  # 10: table name
    )
    assert rules(sql) == [
        (3, "reserved-word"),
        (4, "reserved-word"),
        (5, "reserved-word"),
        (7, "reserved-word"),
        (7, "reserved-word"),
        (8, "reserved-word"),
        (9, "reserved-word"),
        (10, "reserved-word"),
    ]


def test_reserved_words_depend_on_the_target_server() -> None:
    sql = f"CREATE TABLE t (id INT, rank INT, offset INT) {GOOD_OPTIONS};"
    mysql = lint_text(sql, "x.sql", servers=("mysql",))
    mariadb = lint_text(sql, "x.sql", servers=("mariadb",))
    assert [f.message.split()[2] for f in mysql] == ["rank"]
    assert [f.message.split()[2] for f in mariadb] == ["offset"]


def test_non_reserved_keywords_are_fine_as_names() -> None:
    sql = f"CREATE TABLE t (status INT, version INT, `comment` INT, begin INT, end INT, event INT) {GOOD_OPTIONS};"
    assert rules(sql) == []


def test_zero_dates() -> None:
    sql = f"CREATE TABLE t (\n  d DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00'\n) {GOOD_OPTIONS};"
    assert rules(sql) == [(2, "zero-date")]


def test_engine_and_charset() -> None:
    sql = (
        "CREATE TABLE a (x INT) ENGINE=MyISAM DEFAULT CHARSET=utf8mb4;\n"
        "CREATE TABLE b (x INT) ENGINE=InnoDB DEFAULT CHARSET=latin1;\n"
        "CREATE TABLE c (x INT);\n"
        "CREATE TABLE d (x VARCHAR(5) CHARACTER SET utf8) " + GOOD_OPTIONS + ";\n"
        "CREATE TEMPORARY TABLE e (x INT);\n"
        "CREATE TABLE f LIKE a;\n"
    )
    assert rules(sql) == [(1, "engine"), (2, "charset"), (3, "engine"), (3, "charset"), (4, "charset")]


def test_collations_that_exist_on_one_server_only() -> None:
    sql = (
        "CREATE TABLE a (x INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;\n"
        "CREATE TABLE b (x INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE utf8mb4_uca1400_ai_ci;\n"
        "CREATE TABLE c (x INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=latin1_swedish_ci;\n"
        "CREATE TABLE d (x INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n"
    )
    findings = lint_text(sql, "x.sql")
    assert [(f.line, f.rule) for f in findings] == [(1, "collation"), (2, "collation"), (3, "collation")]
    assert "MySQL 8 only" in findings[0].message
    assert "MariaDB 10.10+ only" in findings[1].message


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE seats ADD COLUMN IF NOT EXISTS hold_token VARCHAR(64);",
        "ALTER TABLE seats DROP COLUMN IF EXISTS hold_token;",
        "ALTER TABLE seats ADD INDEX IF NOT EXISTS idx_x (x);",
        "ALTER TABLE seats MODIFY COLUMN IF EXISTS x INT;",
        "CREATE INDEX IF NOT EXISTS idx_x ON seats (x);",
        "DROP INDEX IF EXISTS idx_x ON seats;",
        "CREATE OR REPLACE TABLE t (x INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;",
    ],
)
def test_mariadb_only_syntax(sql: str) -> None:
    assert rules(sql) == [(1, "mariadb-only")]


def test_json_columns_are_fine() -> None:
    assert rules(f"CREATE TABLE t (payload JSON NOT NULL) {GOOD_OPTIONS};") == []


def test_cross_database_foreign_key_and_use() -> None:
    sql = (
        "CREATE TABLE t (\n  seat_id BIGINT,\n"
        "  FOREIGN KEY (seat_id) REFERENCES inventory_db.seats (seat_id)\n"
        f") {GOOD_OPTIONS};\n"
        "USE inventory_db;\n"
    )
    assert rules(sql) == [(3, "cross-database"), (5, "cross-database")]


def test_foreign_key_inside_the_database_is_fine() -> None:
    sql = f"CREATE TABLE t (e BIGINT, CONSTRAINT fk FOREIGN KEY (e) REFERENCES events (event_id)) {GOOD_OPTIONS};"
    assert rules(sql) == []


def test_transaction_control() -> None:
    assert rules("START TRANSACTION;\nINSERT INTO t VALUES (1);\nCOMMIT;") == [(1, "transaction"), (3, "transaction")]


def test_syntax_error_is_a_finding() -> None:
    assert rules("SELECT 1;\nSELECT 'open;\n") == [(2, "syntax")]


def test_misnamed_file_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "V002_missing_underscore.sql").write_text("SELECT 1;\n")
    report = lint_paths([tmp_path])
    assert [f.rule for f in report.findings] == ["file-name"]
    assert not report.ok


def _display(path: Path) -> str:
    import os

    return os.path.relpath(path)


def test_a_byte_order_mark_first_is_not_sql_but_one_inside_the_code_is_found(tmp_path: Path) -> None:
    path = tmp_path / "V001__seats.sql"
    path.write_bytes("\ufeffCREATE TABLE seats (row_number INT) ENGINE=InnoDB CHARSET=utf8mb4;\n".encode())
    assert [(f.line, f.rule) for f in lint_file(path)] == [(1, "reserved-word")]
    path.write_text("CREATE TABLE seats (id INT)\u200b ENGINE=InnoDB CHARSET=utf8mb4;\n", encoding="utf-8")
    assert [(f.line, f.rule) for f in lint_file(path)] == [(1, "invisible-character")]
