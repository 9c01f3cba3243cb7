"""Schema drift as a real process meets a missing right, Ctrl-C, ``kill -9``, and a migration that names
another database: one error line with the fix, the documented exit code, and no shadow database left
(or, after ``kill -9``, one named so the next run recognises it)."""

from __future__ import annotations

import signal
import time

import pytest

from tests.support.reliability import Databases, Workdir, write_migration
from ticketctl.errors import ExitCode
from ticketctl.migrations.drift import SHADOW_PREFIX

pytestmark = pytest.mark.reliability


def _shadows_of(databases: Databases, key: str) -> list[str]:
    pattern = f"{SHADOW_PREFIX}{key}_".replace("_", "\\_") + "%"
    return [row[0] for row in databases.query(None, "SHOW DATABASES LIKE %s", (pattern,))]


def _mine(names: list[str], started: float) -> list[str]:
    return [name for name in names if int(name.rsplit("_", 2)[-2]) >= int(started) - 5]


@pytest.fixture
def migrated(workdir: Workdir, databases: Databases) -> Workdir:
    workdir.env.update(databases.environment())
    write_migration(workdir, "events", "V001__a.sql", "CREATE TABLE a (id INT PRIMARY KEY, name VARCHAR(20));\n")
    write_migration(workdir, "events", "V002__slow.sql", "DO SLEEP(3);\n")
    assert workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas").code == 0
    return workdir


def test_without_the_right_to_create_the_shadow_database_the_privilege_is_named(
    migrated: Workdir, databases: Databases
) -> None:
    run = migrated.run(
        "migrate", "drift", "--db", "events", "--schemas-dir", "schemas", env={"MYSQL_ROOT_PASSWORD": ""}
    )
    assert run.code == ExitCode.DATABASE
    user = databases.users["events"]
    line = run.error_line
    assert line.startswith(
        f"error: {databases.names['events']}: drift needs a throwaway database ticketctl_shadow_events_"
    )
    assert f"the CREATE privilege for it is missing: {user} (" in line
    grant = "GRANT CREATE, DROP, ALTER, INDEX, REFERENCES, SELECT, INSERT, UPDATE, DELETE, CREATE VIEW, TRIGGER"
    assert f"{grant} ON `ticketctl\\_shadow\\_%`.* TO '{user}'@'%'" in line


def test_ctrl_c_during_drift_exits_130_and_drops_the_shadow(migrated: Workdir, databases: Databases) -> None:
    started = time.time()
    process = migrated.start("migrate", "drift", "--db", "events", "--schemas-dir", "schemas")
    deadline = time.monotonic() + 60
    while not _mine(_shadows_of(databases, "events"), started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _mine(_shadows_of(databases, "events"), started), "the shadow database never appeared"
    process.signal(signal.SIGINT)
    run = process.finish(timeout=60)
    assert run.code == ExitCode.INTERRUPTED
    assert run.error_line.startswith("error: migrate drift interrupted: its shadow databases were dropped")
    assert _mine(_shadows_of(databases, "events"), started) == []


def test_kill_9_during_drift_leaves_a_named_shadow_that_a_later_run_drops(
    migrated: Workdir, databases: Databases
) -> None:
    started = time.time()
    process = migrated.start("migrate", "drift", "--db", "events", "--schemas-dir", "schemas")
    deadline = time.monotonic() + 60
    while not _mine(_shadows_of(databases, "events"), started) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.signal(signal.SIGKILL)
    process.popen.communicate(timeout=30)
    (left,) = _mine(_shadows_of(databases, "events"), started)
    try:
        # Still fresh: another run's shadow could be in use, so the next run leaves it and works beside it.
        assert migrated.run("migrate", "drift", "--db", "events", "--schemas-dir", "schemas").code == 0
        assert left in _shadows_of(databases, "events")
        # Once older than ten minutes by the server's clock it is a leftover: renamed here to age it.
        _, server_time, random = left.rsplit("_", 2)
        aged = f"{SHADOW_PREFIX}events_{int(server_time) - 3600:010d}_{random}"
        databases.query(None, f"CREATE DATABASE `{aged}`")
        databases.query(None, f"DROP DATABASE `{left}`")
        run = migrated.run("migrate", "drift", "--db", "events", "--schemas-dir", "schemas")
        assert run.code == 0 and f"dropped {aged}, a shadow database left by an interrupted run" in run.out
        assert aged not in _shadows_of(databases, "events")
    finally:
        for name in _mine(_shadows_of(databases, "events"), started - 7200):
            databases.query(None, f"DROP DATABASE IF EXISTS `{name}`")


def test_a_migration_that_names_another_database_is_refused_before_the_shadow_is_touched(
    migrated: Workdir, databases: Databases
) -> None:
    write_migration(
        migrated, "events", "V003__cross.sql", f"INSERT INTO `{databases.names['events']}`.a VALUES (1, 'x');\n"
    )
    assert migrated.run("migrate", "--db", "events", "--schemas-dir", "schemas").code == 0
    started = time.time()
    run = migrated.run("migrate", "drift", "--db", "events", "--schemas-dir", "schemas")
    assert run.code == ExitCode.MIGRATION
    assert run.error_line.startswith(
        "error: schemas/events/V003__cross.sql:1: the statement names a database of the stack"
    )
    assert "write unqualified names in migrations" in run.error_line
    assert _mine(_shadows_of(databases, "events"), started) == []
