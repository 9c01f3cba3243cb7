"""Schema drift on the real server: changes made by hand are named by ``migrate drift``, turn ``doctor`` red
and make ``plan`` exit with its drift code; undone, everything is green again. The shadow database is
always dropped (after Ctrl-C and ``kill -9`` too: tests/reliability/test_drift_faults.py), a leftover of a
killed run is cleaned, and a user who may not create it is told which privilege is missing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support.migrations import MySQLServer, Project
from tests.support.servers import SearchScratch
from ticketctl.errors import ExitCode
from ticketctl.migrations import migrate
from ticketctl.migrations.drift import SHADOW_PREFIX, drift

pytestmark = pytest.mark.integration

# The four changes of the issue, made by hand on events_db, and how to undo them.
BY_HAND = (
    "ALTER TABLE events ADD COLUMN note VARCHAR(200) NULL",
    "ALTER TABLE events DROP INDEX idx_status",
    "ALTER TABLE event_pricing_rules ALTER currency SET DEFAULT 'EUR'",
    "CREATE TABLE audit_log (id BIGINT PRIMARY KEY, what VARCHAR(100) NOT NULL) ENGINE=InnoDB",
)
UNDO = (
    "ALTER TABLE events DROP COLUMN note",
    "ALTER TABLE events ADD INDEX idx_status (status)",
    "ALTER TABLE event_pricing_rules ALTER currency SET DEFAULT 'USD'",
    "DROP TABLE audit_log",
)


@pytest.fixture(autouse=True)
def _in_workdir(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.workdir)


@pytest.fixture
def migrated(project: Project) -> Project:
    project.use_packaged_schemas()
    migrate(project.settings(), project.secrets(), schemas_dir=project.schemas)
    return project


def shadows(server: MySQLServer) -> list[str]:
    return [row[0] for row in server.execute("SHOW DATABASES LIKE %s", (SHADOW_PREFIX.replace("_", "\\_") + "%",))]


def shadows_since(server: MySQLServer, started: float) -> list[str]:
    """Shadow databases named with a server time at or after ``started`` (other runs' leftovers are not ours)."""
    return [name for name in shadows(server) if int(name.rsplit("_", 2)[-2]) >= int(started) - 5]


def cli_json(project: Project, *args: str, **extra: str) -> tuple[int, Any]:
    done = project.cli(*args, "--json", **extra)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_an_untouched_database_has_no_drift_and_the_shadow_is_dropped(
    migrated: Project, mysql_server: MySQLServer
) -> None:
    started = time.time()
    report = drift(migrated.settings(), migrated.secrets(), schemas_dir=migrated.schemas)
    assert [(d.key, d.differences, d.error) for d in report.databases] == [
        ("events", (), None),
        ("inventory", (), None),
        ("bookings", (), None),
    ]
    assert [d.applied for d in report.databases] == [("V001", "V002"), ("V001",), ("V001",)]
    # The application users may not create databases; the root user made the shadows.
    assert {d.shadow_user for d in report.databases} == {mysql_server.root_user}
    assert report.exit_code == ExitCode.OK
    assert shadows_since(mysql_server, started) == []


def test_changes_by_hand_are_named_doctor_turns_red_plan_exits_10_and_undone_all_is_green(
    migrated: Project, mysql_server: MySQLServer, elasticsearch_scratch: SearchScratch
) -> None:
    search = {
        "TICKETCTL_SEARCH__URL": elasticsearch_scratch.server.url,
        "TICKETCTL_SEARCH__INDEX": elasticsearch_scratch.index("events"),
        "TICKETCTL_DOCKER__ENABLED": "false",
    }
    assert migrated.cli("index", "create", **search).returncode == 0
    clean_plan = migrated.cli("plan", "--schema-drift", "--json", **search)
    assert clean_plan.returncode == ExitCode.OK, clean_plan.stdout + clean_plan.stderr

    for statement in BY_HAND:
        migrated.query("events", statement)
    code, report = cli_json(migrated, "migrate", "drift", "--schemas-dir", str(migrated.schemas))
    assert code == ExitCode.DRIFT
    events, inventory, bookings = report["databases"]
    assert inventory["differences"] == [] and bookings["differences"] == []
    named = {(d["table"], d["kind"], d["name"], d["change"]) for d in events["differences"]}
    assert named == {
        ("events", "column", "note", "added"),
        ("events", "index", "idx_status", "removed"),
        ("event_pricing_rules", "column", "currency", "changed"),
        ("audit_log", "table", None, "added"),
    }
    currency = next(d for d in events["differences"] if d["name"] == "currency")
    # The server's own terms: MariaDB quotes a default literal in information_schema (MySQL 8 does not).
    assert currency["attributes"] == [{"attribute": "default", "live": "'EUR'", "expected": "'USD'"}]
    note = next(d for d in events["differences"] if d["name"] == "note")
    assert note["live"].startswith("varchar(200) NULL")

    text = migrated.cli("migrate", "drift", "--db", "events", "--schemas-dir", str(migrated.schemas))
    assert text.returncode == ExitCode.DRIFT
    assert "events: column note exists live but not in the applied migrations" in text.stdout
    assert "events: index idx_status is missing live; the applied migrations create it: (status) BTREE" in text.stdout
    assert "event_pricing_rules: column currency: default 'EUR' live, 'USD' expected" in text.stdout
    assert "table audit_log exists live but not in the applied migrations" in text.stdout

    code, doctor = cli_json(migrated, "doctor", "mysql", **search)
    assert code == ExitCode.CHECKS_FAILED
    checks = {check["name"]: check for check in doctor["checks"]}
    red = checks["mysql.events.drift"]
    assert red["status"] == "fail"
    assert f"{migrated.names['events']} differs from its applied migrations" in red["summary"]
    assert red["fix"].startswith("put the change into a new migration in schemas/events/")
    assert checks["mysql.inventory.drift"]["status"] == "ok"

    code, plan = cli_json(migrated, "plan", "--schema-drift", **search)
    assert code == ExitCode.DRIFT
    assert sum(1 for f in plan["findings"] if f["section"] == "schema" and f["kind"] == "drift") == 4
    assert migrated.cli("plan", **search).returncode == ExitCode.OK  # without --schema-drift the schemas are not read

    for statement in UNDO:
        migrated.query("events", statement)
    assert migrated.cli("migrate", "drift").returncode == ExitCode.OK
    code, doctor = cli_json(migrated, "doctor", "mysql", **search)
    assert {c["name"]: c["status"] for c in doctor["checks"] if c["name"].endswith(".drift")} == {
        "mysql.events.drift": "ok",
        "mysql.inventory.drift": "ok",
        "mysql.bookings.drift": "ok",
    }
    assert migrated.cli("plan", "--schema-drift", **search).returncode == ExitCode.OK


def test_pending_changes_make_plan_exit_20_and_print_the_sql(
    project: Project, elasticsearch_scratch: SearchScratch
) -> None:
    project.use_packaged_schemas()
    search = {
        "TICKETCTL_SEARCH__URL": elasticsearch_scratch.server.url,
        "TICKETCTL_SEARCH__INDEX": elasticsearch_scratch.index("events"),
        "TICKETCTL_DOCKER__ENABLED": "false",
    }
    done = project.cli("plan", "--sql", **search)
    assert done.returncode == ExitCode.CHANGES, done.stdout + done.stderr
    assert f"{project.names['events']}: V001 initial schema would be applied" in done.stdout
    assert "CREATE TABLE events (" in done.stdout  # --sql
    assert f"{elasticsearch_scratch.index('events')}_v1 would be created" in done.stdout
    github = project.cli("plan", "--format", "github", **search)
    assert github.returncode == ExitCode.CHANGES
    assert "events/V001__initial_schema.sql,line=" in github.stdout and "::notice file=" in github.stdout
    assert github.stdout.rstrip().splitlines()[-1].startswith("::error title=ticketctl plan::up would make ")


def test_without_the_right_to_create_the_shadow_the_missing_privilege_is_named(migrated: Project) -> None:
    report = drift(migrated.settings(), migrated.secrets(root=False), databases=["events"])
    (events,) = report.databases
    assert events.error is not None
    user = migrated.users["events"]
    assert f"the CREATE privilege for it is missing: {user} (" in events.error.message
    assert "MYSQL_ROOT_PASSWORD is not set" in events.error.message
    assert "GRANT CREATE, DROP, ALTER" in (events.error.hint or "")
    assert f"ON `ticketctl\\_shadow\\_%`.* TO '{user}'@'%'" in (events.error.hint or "")
    assert report.exit_code == ExitCode.DATABASE
    code, doctor = cli_json(migrated, "doctor", "mysql.events.drift", MYSQL_ROOT_PASSWORD="")
    assert code == ExitCode.WARNINGS
    check = next(c for c in doctor["checks"] if c["name"] == "mysql.events.drift")
    assert check["status"] == "warn" and "GRANT CREATE" in check["fix"]


def test_a_root_password_the_server_refuses_is_a_missing_right_not_a_failed_schema(migrated: Project) -> None:
    """A rendered .env holds a root password the (remote) server need not know: drift cannot be computed."""
    secrets = {**migrated.secrets(), "MYSQL_ROOT_PASSWORD": "not-the-servers-root-password"}
    report = drift(migrated.settings(), secrets, databases=["events"])
    (events,) = report.databases
    assert events.error is not None
    assert "the CREATE privilege for it is missing" in events.error.message
    assert f"{migrated.settings().mysql.root_user} (" in events.error.message
    assert "Access denied" in events.error.message
    code, doctor = cli_json(
        migrated, "doctor", "mysql.events.drift", MYSQL_ROOT_PASSWORD="not-the-servers-root-password"
    )
    assert code == ExitCode.WARNINGS
    check = next(c for c in doctor["checks"] if c["name"] == "mysql.events.drift")
    assert check["status"] == "warn"
    assert "not-the-servers-root-password" not in json.dumps(doctor)


def test_a_shadow_left_by_a_killed_run_is_dropped_by_the_next(migrated: Project, mysql_server: MySQLServer) -> None:
    (now,) = mysql_server.execute("SELECT UNIX_TIMESTAMP()")[0]
    stale = f"{SHADOW_PREFIX}events_{int(now) - 3600:010d}_abcdef"
    fresh = f"{SHADOW_PREFIX}events_{int(now) - 10:010d}_fedcba"  # another run's, in progress: kept
    for name in (stale, fresh):
        mysql_server.execute(f"CREATE DATABASE `{name}`")
    try:
        report = drift(migrated.settings(), migrated.secrets(), databases=["events"])
        assert report.cleaned == (stale,)
        assert stale not in shadows(mysql_server) and fresh in shadows(mysql_server)
    finally:
        for name in (stale, fresh):
            mysql_server.execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_the_json_of_migrate_drift_says_what_was_applied_to_the_shadow(migrated: Project) -> None:
    migrated.write("events", "V003__add_tag.sql", "ALTER TABLE events ADD COLUMN tag VARCHAR(20) NULL;\n")
    migrate(migrated.settings(), migrated.secrets(), databases=["events"], schemas_dir=migrated.schemas)
    code, report = cli_json(migrated, "migrate", "drift", "--db", "events", "--schemas-dir", str(migrated.schemas))
    assert code == ExitCode.OK
    (events,) = report["databases"]
    assert events["applied"] == ["V001", "V002", "V003"] and events["differences"] == []
