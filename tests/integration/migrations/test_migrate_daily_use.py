"""Migrations as a new user meets them (issue 14): a file saved with a byte-order mark, the team's own schemas
folder as a setting, and a failed migration that must never look green. Real MariaDB, real processes."""

from __future__ import annotations

import json

import pytest

from tests.support.migrations import Project
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.integration

BOM = "\ufeff"
SEATS = "CREATE TABLE seats (id INT PRIMARY KEY, label VARCHAR(10)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"


def _events_only(project: Project) -> None:
    """Migrations for events only: the other two databases have none."""
    for key in ("inventory", "bookings"):
        (project.schemas / key).mkdir(parents=True, exist_ok=True)


def test_a_byte_order_mark_is_not_part_of_the_sql(project: Project) -> None:
    _events_only(project)
    path = project.write("events", "V001__seats.sql", BOM + SEATS + "INSERT INTO seats VALUES (1, 'A1');\n")

    planned = project.cli("migrate", "plan", "--schemas-dir", "schemas", "--db", "events", "--json")
    assert planned.returncode == 0, planned.stderr
    steps = json.loads(planned.stdout)["databases"][0]["pending"]
    assert steps[0]["statements"][0]["sql"].startswith("CREATE TABLE seats"), steps  # what the server gets

    applied = project.cli("migrate", "--schemas-dir", "schemas", "--db", "events")
    assert applied.returncode == 0, applied.stdout + applied.stderr  # not MySQL error 1064 near '\ufeffCREATE'
    assert project.query("events", "SELECT label FROM seats") == [("A1",)]

    # Saved again without the mark: the same file, so nothing is pending, changed or refused.
    path.write_bytes(path.read_bytes().removeprefix(BOM.encode()))
    status = project.cli("migrate", "status", "--schemas-dir", "schemas", "--db", "events", "--exit-code", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert [v["state"] for v in json.loads(status.stdout)["databases"][0]["versions"]] == ["applied"]


def test_lint_sees_the_sql_the_server_sees(project: Project) -> None:
    """With the mark, lint used to see a first word '\\ufeffCREATE' and check nothing of the statement."""
    _events_only(project)
    project.write(
        "events",
        "V001__seats.sql",
        BOM + "CREATE TABLE seats (row_number VARCHAR(10)) ENGINE=InnoDB CHARSET=utf8mb4;\n",
    )
    project.write("events", "V002__more.sql", "CREATE TABLE more_seats (id INT)\ufeff ENGINE=InnoDB CHARSET=utf8mb4;\n")
    linted = project.cli("migrate", "lint", "--schemas-dir", "schemas", "--db", "events")
    assert linted.returncode == ExitCode.CONFIG, linted.stdout + linted.stderr
    assert "V001__seats.sql:1: reserved-word: column name row_number" in linted.stdout
    assert "V002__more.sql:1: invisible-character: a byte-order mark (U+FEFF)" in linted.stdout


def test_a_failed_first_statement_says_nothing_was_committed(project: Project) -> None:
    _events_only(project)
    project.write("events", "V001__broken.sql", "CREATE TABLE broken (id INT PRIMARY KEY,);\n")
    failed = project.cli("migrate", "--schemas-dir", "schemas", "--db", "events")
    assert failed.returncode == ExitCode.MIGRATION, failed.stdout + failed.stderr
    status = project.cli("migrate", "status", "--schemas-dir", "schemas", "--db", "events", "--json")
    problem = json.loads(status.stdout)["databases"][0]["problems"][0]
    assert problem["kind"] == "failed"
    assert "1-0" not in problem["hint"] and "none of its statements is committed" in problem["hint"], problem


def test_the_schemas_dir_setting_reaches_migrate_and_doctor_and_a_failed_one_is_never_green(
    project: Project,
) -> None:
    """A team's own migrations, named once in ticketctl.yaml (relative to it), for migrate, status and doctor."""
    _events_only(project)
    project.write("events", "V001__seats.sql", SEATS)
    project.write("events", "V002__holds.sql", "CREATE TABLE holds (id INT PRIMARY KEY) ENGINE=InnoDB;\n")
    project.write("events", "V003__broken.sql", "INSERT INTO no_such_table VALUES (1);\n")
    (project.workdir / "ticketctl.yaml").write_text("schemas_dir: schemas\n")

    migrated = project.cli("migrate", "--db", "events")
    assert migrated.returncode == ExitCode.MIGRATION, migrated.stdout + migrated.stderr
    assert [(row["version"], row["status"]) for row in project.history("events")] == [
        (1, "success"),
        (2, "success"),
        (3, "failed"),
    ]

    status = project.cli("migrate", "status", "--db", "events", "--exit-code")
    assert status.returncode == ExitCode.MIGRATION, status.stdout + status.stderr

    doctor = project.cli("doctor", "mysql.events.migrations", "--json")
    check = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}["mysql.events.migrations"]
    assert check["status"] == "fail", check
    assert "V003__broken.sql" in check["summary"] and "failed at statement 1" in check["summary"]

    # Without the setting, the packaged schemas do not hold V002 and V003: a failed V003 is still never green.
    (project.workdir / "ticketctl.yaml").write_text("project: other\n")
    doctor = project.cli("doctor", "mysql.events.migrations", "--json")
    check = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}["mysql.events.migrations"]
    assert check["status"] == "fail", check
    status = project.cli("migrate", "status", "--db", "events", "--exit-code", "--json")
    assert status.returncode == ExitCode.MIGRATION, status.stdout + status.stderr
    problems = json.loads(status.stdout)["databases"][0]["problems"]
    unfinished = next(p for p in problems if p["kind"] == "unfinished-missing")
    assert unfinished["version"] == 3 and "schemas_dir" in unfinished["hint"], problems
