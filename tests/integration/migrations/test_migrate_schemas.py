"""The shipped schemas on a real server: idempotent, and faithful to every column and index of the original DDL."""

from __future__ import annotations

from typing import Any

import pymysql
import pytest

from tests.support import ORIGINAL_DDL
from tests.support.migrations import KEYS, MySQLServer, Project
from ticketctl.clients.mysql import app_credentials, connect
from ticketctl.migrations import migrate, status
from ticketctl.migrations.lint import lint_paths

pytestmark = pytest.mark.integration

DESIGNED_TABLES = {
    "events": {"event_pricing_rules"},
    "inventory": {"seat_audit"},
    "bookings": {"payment_transactions"},
}


def test_first_run_applies_every_schema_and_the_second_applies_nothing(project: Project) -> None:
    project.use_packaged_schemas()
    settings, secrets = project.settings(), project.secrets()

    first = migrate(settings, secrets, schemas_dir=project.schemas)
    assert first.ok
    assert {(d.key, d.created, tuple(m.version for m in d.applied)) for d in first.databases} == {
        ("events", True, (1, 2)),
        ("inventory", True, (1,)),
        ("bookings", True, (1,)),
    }
    before = {key: project.history(key) for key in KEYS}
    scripts = {
        "events": [("V001__initial_schema.sql", 3), ("V002__search_fields.sql", 2)],
        "inventory": [("V001__initial_schema.sql", 3)],
        "bookings": [("V001__initial_schema.sql", 4)],
    }
    for key in KEYS:
        assert len(before[key]) == len(scripts[key])
        for version, (row, (script, statements)) in enumerate(zip(before[key], scripts[key], strict=True), start=1):
            assert (row["version"], row["status"], row["type"]) == (version, "success", "SQL")
            assert row["statements_applied"] == row["statements_total"] == statements
            assert row["script"] == f"{key}/{script}"
            assert len(row["checksum"]) == 64
            assert row["installed_by"].startswith(project.users[key] + "@")

    events: list[str] = []
    second = migrate(settings, secrets, schemas_dir=project.schemas, on_event=lambda e: events.append(e.kind))
    assert second.ok
    assert second.applied_count == 0
    assert all(not d.created for d in second.databases)
    assert {key: project.history(key) for key in KEYS} == before
    assert events.count("up-to-date") == 3
    assert "locked" not in events  # nothing pending: the lock is never taken
    assert status(settings, secrets, schemas_dir=project.schemas).up_to_date


def test_information_schema_holds_every_original_column_key_and_index(
    project: Project, mysql_server: MySQLServer
) -> None:
    """Apply the original DDL (row_number quoted, the one change it needs) next to the migrated schema and compare."""
    project.use_packaged_schemas()
    migrate(project.settings(), project.secrets(), schemas_dir=project.schemas)
    for key in KEYS:
        original_db = f"{project.prefix}_orig_{key[:3]}"
        mysql_server.execute(f"CREATE DATABASE `{original_db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        try:
            original_sql = (
                (ORIGINAL_DDL / f"{key}.sql").read_text().replace("row_number VARCHAR", "`row_number` VARCHAR")
            )
            connection = mysql_server.connect(original_db, client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
            with connection.cursor() as cursor:
                cursor.execute(original_sql)
                while cursor.nextset():
                    pass
            connection.close()
            original_columns, original_indexes = (
                _columns(mysql_server, original_db),
                _indexes(mysql_server, original_db),
            )
            columns, indexes = _columns(mysql_server, project.names[key]), _indexes(mysql_server, project.names[key])
        finally:
            mysql_server.execute(f"DROP DATABASE IF EXISTS `{original_db}`")
        assert original_columns, f"the original {key} DDL created no columns"
        missing_columns = {column: spec for column, spec in original_columns.items() if columns.get(column) != spec}
        assert missing_columns == {}, f"{key}: original columns missing or different: {missing_columns}"
        missing_indexes = {index: spec for index, spec in original_indexes.items() if indexes.get(index) != spec}
        assert missing_indexes == {}, f"{key}: original keys/indexes missing or different: {missing_indexes}"
        original_tables = {table for table, _ in original_columns}
        migrated_tables = {table for table, _ in columns} - {"ticketctl_schema_history"}
        assert migrated_tables == original_tables | DESIGNED_TABLES[key]


def test_every_detail_of_the_original_ddl_by_name(project: Project, mysql_server: MySQLServer) -> None:
    """A few details of the original DDL spelled out, so a failure reads plainly."""
    project.use_packaged_schemas()
    migrate(project.settings(), project.secrets(), schemas_dir=project.schemas)
    inventory = _columns(mysql_server, project.names["inventory"])
    assert inventory[("seats", "row_number")] == ("varchar(10)", "YES", None, "")
    assert inventory[("seats", "version")] == ("bigint", "YES", "0", "")
    assert inventory[("seats", "status")][0] == "enum('AVAILABLE','RESERVED','BOOKED','BLOCKED')"
    indexes = _indexes(mysql_server, project.names["inventory"])
    assert indexes[("seats", "uk_event_seat")] == (0, ("event_id", "seat_number"))
    assert indexes[("seats", "idx_event_status")] == (1, ("event_id", "status"))
    bookings = _indexes(mysql_server, project.names["bookings"])
    assert bookings[("bookings", "booking_reference")] == (0, ("booking_reference",))
    assert bookings[("booking_seats", "uk_booking_seat")] == (0, ("booking_id", "seat_id"))
    events = _columns(mysql_server, project.names["events"])
    assert events[("outbox_events", "processed")] == ("tinyint(1)", "YES", "0", "")
    # V002: the search fields; JSON is LONGTEXT (with a JSON_VALID check) on MariaDB
    assert events[("events", "city")] == ("varchar(100)", "YES", None, "")
    assert events[("events", "category")] == ("varchar(50)", "YES", None, "")
    assert events[("events", "description")] == ("text", "YES", None, "")
    assert events[("events", "tags")][0] == "longtext"
    assert _indexes(mysql_server, project.names["events"])[("outbox_events", "idx_aggregate_processed")] == (
        1,
        ("aggregate_id", "processed", "id"),
    )


def test_every_table_is_innodb_utf8mb4_unicode(project: Project, mysql_server: MySQLServer) -> None:
    project.use_packaged_schemas()
    migrate(project.settings(), project.secrets(), schemas_dir=project.schemas)
    names = tuple(project.names.values())
    rows = mysql_server.execute(
        "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA IN %s",
        (names,),
    )
    assert len(rows) == 10 + 3  # the ten tables of the original DDL and one history table per database
    assert {(engine, collation) for _, engine, collation in rows} == {("InnoDB", "utf8mb4_unicode_ci")}
    text_columns = mysql_server.execute(
        "SELECT DISTINCT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA IN %s AND CHARACTER_SET_NAME IS NOT NULL AND DATA_TYPE <> 'longtext'",
        (names,),
    )
    assert text_columns == [("utf8mb4", "utf8mb4_unicode_ci")]


def test_designed_tables_enforce_their_keys(project: Project) -> None:
    project.use_packaged_schemas()
    migrate(project.settings(), project.secrets(), schemas_dir=project.schemas)
    project.query(
        "bookings",
        "INSERT INTO bookings (event_id, user_id, total_amount, booking_reference) VALUES (1, 'u1', 10.00, 'REF1')",
    )
    insert = (
        "INSERT INTO payment_transactions (booking_id, provider, provider_transaction_id, transaction_type, amount) "
        "VALUES (%s, 'stripe', 'tx_1', 'CAPTURE', 10.00)"
    )
    project.query("bookings", insert, (1,))
    with pytest.raises(pymysql.err.IntegrityError) as duplicate:
        project.query("bookings", insert, (1,))
    assert duplicate.value.args[0] == 1062  # uk_provider_transaction: a replayed webhook records nothing twice
    with pytest.raises(pymysql.err.IntegrityError) as orphan:
        project.query("bookings", insert.replace("tx_1", "tx_2"), (999,))
    assert orphan.value.args[0] == 1452  # fk to bookings
    project.query(
        "events",
        "INSERT INTO events (event_name, event_date, total_seats, available_seats) "
        "VALUES ('Show', '2027-01-01 20:00:00', 100, 100)",
    )
    with pytest.raises(pymysql.err.OperationalError) as negative:
        project.query("events", "INSERT INTO event_pricing_rules (event_id, rule_name, price) VALUES (1, 'x', -1)")
    assert negative.value.args[0] in (3819, 4025)  # check constraint violated: MySQL 8 3819, MariaDB 4025


def test_original_inventory_ddl_fails_on_the_server_where_lint_says(
    project: Project, mysql_server: MySQLServer
) -> None:
    (finding,) = [f for f in lint_paths([ORIGINAL_DDL / "inventory.sql"]).findings if f.rule == "reserved-word"]
    scratch = f"{project.prefix}_raw"
    mysql_server.execute(f"CREATE DATABASE `{scratch}`")
    try:
        with pytest.raises(pymysql.err.ProgrammingError) as raised:
            mysql_server.execute((ORIGINAL_DDL / "inventory.sql").read_text().split(";")[0], database=scratch)
    finally:
        mysql_server.execute(f"DROP DATABASE `{scratch}`")
    assert raised.value.args[0] == 1064
    assert "near 'row_number VARCHAR(10)" in raised.value.args[1]
    assert finding.line == 9


def test_every_session_is_pinned_and_knows_its_server(project: Project) -> None:
    settings = project.settings()
    database = settings.mysql.databases[0]
    migrate(settings, project.secrets(), schemas_dir=project.schemas)  # creates the (empty) databases
    with connect(settings.mysql, app_credentials(database, project.secrets()), database=database.name) as session:
        row = session.query_one(
            "SELECT @@session.sql_mode, @@session.time_zone, @@session.character_set_connection, "
            "@@session.collation_connection, @@session.innodb_lock_wait_timeout, @@session.lock_wait_timeout"
        )
        version = session.query_one("SELECT VERSION()")
    assert row is not None and version is not None
    sql_mode, time_zone, charset, collation, innodb_wait, mdl_wait = row
    assert set(sql_mode.split(",")) >= {"STRICT_TRANS_TABLES", "NO_ZERO_DATE", "NO_ZERO_IN_DATE", "ONLY_FULL_GROUP_BY"}
    assert (time_zone, charset, collation, int(innodb_wait), int(mdl_wait)) == (
        "+00:00",
        "utf8mb4",
        "utf8mb4_unicode_ci",
        30,
        30,
    )
    assert session.server.flavor == ("mariadb" if "MariaDB" in version[0] else "mysql")
    assert session.server.version_string == version[0]


def _columns(server: MySQLServer, schema: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(table, column) → (type without integer display width, nullable, default, extra) in one canonical form."""
    rows = server.execute(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s",
        (schema,),
    )
    return {
        (table, column): (_type(column_type), nullable, _default(default), extra.lower())
        for table, column, column_type, nullable, default, extra in rows
    }


def _type(column_type: str) -> str:
    """bigint(20) (MariaDB, MySQL 5) → bigint (MySQL 8); tinyint(1) keeps its width on both."""
    import re

    return re.sub(r"^(bigint|int|smallint|mediumint)\(\d+\)", r"\1", column_type)


def _default(default: str | None) -> str | None:
    """MariaDB quotes string defaults and spells NULL; MySQL does neither."""
    if default is None or default == "NULL":
        return None
    if default.lower() in ("current_timestamp()", "current_timestamp"):
        return "CURRENT_TIMESTAMP"
    if len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1]
    return default


def _indexes(server: MySQLServer, schema: str) -> dict[tuple[str, str], tuple[int, tuple[str, ...]]]:
    """(table, index) → (non_unique, columns in order)."""
    rows = server.execute(
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        (schema,),
    )
    indexes: dict[tuple[str, str], tuple[int, tuple[str, ...]]] = {}
    for table, index, non_unique, column in rows:
        unique, columns = indexes.get((table, index), (int(non_unique), ()))
        indexes[(table, index)] = (unique, (*columns, column))
    return indexes
