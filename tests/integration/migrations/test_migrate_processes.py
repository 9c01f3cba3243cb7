"""``ticketctl migrate`` as real processes: concurrency, exit codes and JSON output."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.migrations import KEYS, Project
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.integration

PROCESSES = 5


def test_five_concurrent_processes_apply_each_migration_exactly_once(project: Project) -> None:
    for key in KEYS:
        project.write(
            key,
            "V001__log.sql",
            "CREATE TABLE applied_log (id INT AUTO_INCREMENT PRIMARY KEY, version INT NOT NULL, "
            "connection_id BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
            "INSERT INTO applied_log (version, connection_id) VALUES (1, CONNECTION_ID());\n",
        )
        # slow enough that the five processes overlap while it runs
        project.write(
            key,
            "V002__slow.sql",
            "DO SLEEP(1);\nINSERT INTO applied_log (version, connection_id) VALUES (2, CONNECTION_ID());\n",
        )
        project.write(
            key, "V003__more.sql", "INSERT INTO applied_log (version, connection_id) VALUES (3, CONNECTION_ID());\n"
        )
    started = time.monotonic()
    processes = [project.popen("migrate", "--schemas-dir", "schemas") for _ in range(PROCESSES)]
    outputs = [process.communicate(timeout=120) for process in processes]
    elapsed = time.monotonic() - started
    codes = [process.returncode for process in processes]
    assert codes == [0] * PROCESSES, outputs
    for key in KEYS:
        rows = project.query(
            key,
            "SELECT version, COUNT(*), COUNT(DISTINCT connection_id) FROM applied_log "
            "GROUP BY version ORDER BY version",
        )
        assert rows == [(1, 1, 1), (2, 1, 1), (3, 1, 1)], f"{key}: {rows}"
        history = project.history(key)
        assert [(r["version"], r["status"], r["statements_applied"]) for r in history] == [
            (1, "success", 2),
            (2, "success", 2),
            (3, "success", 1),
        ]
    stdout = "".join(out for out, _ in outputs)
    assert stdout.count("V002 slow applied") == len(KEYS)  # one process per database did the work
    assert stdout.count("waiting up to") + stdout.count("is up to date") >= (PROCESSES - 1) * len(KEYS)
    assert stdout.count("waiting up to") >= 1, stdout  # they really did overlap
    assert elapsed < 60


def test_status_exit_code_for_ci(project: Project) -> None:
    project.write("events", "V001__a.sql", "CREATE TABLE a (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")
    args = ("migrate", "status", "--db", "events", "--schemas-dir", "schemas", "--exit-code")

    pending = project.cli(*args)
    assert pending.returncode == ExitCode.PENDING == 13, pending.stderr
    assert "1 pending, 0 problem(s)" in pending.stdout

    applied = project.cli("migrate", "--db", "events", "--schemas-dir", "schemas")
    assert applied.returncode == 0, applied.stderr
    assert "applied 1 migration(s)" in applied.stdout

    clean = project.cli(*args)
    assert (clean.returncode, clean.stdout.strip().splitlines()[-1]) == (0, "up to date")
    assert project.cli(*args[:-1]).returncode == 0  # without --exit-code status reports only

    (project.schemas / "events" / "V001__a.sql").write_text("CREATE TABLE a (id BIGINT) ENGINE=InnoDB;\n")
    changed = project.cli(*args)
    assert changed.returncode == ExitCode.MIGRATION == 8
    assert "refused: schemas/events/V001__a.sql: version 1 was applied on" in changed.stdout
    refused = project.cli("migrate", "--db", "events", "--schemas-dir", "schemas")
    assert refused.returncode == 8
    assert refused.stderr.startswith(f"error: {project.names['events']}: schemas/events/V001__a.sql: version 1")
    assert "ticketctl migrate repair" in refused.stderr


def test_json_output_of_migrate_status_and_plan(project: Project) -> None:
    project.write("events", "V001__a.sql", "CREATE TABLE a (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")
    planned = project.cli("migrate", "plan", "--db", "events", "--schemas-dir", "schemas", "--json")
    assert planned.returncode == 0, planned.stderr
    (database,) = json.loads(planned.stdout)["databases"]
    assert database["pending"][0]["statements"][0]["implicit_commit"] is True

    migrated = project.cli("migrate", "--db", "events", "--schemas-dir", "schemas", "--json")
    assert migrated.returncode == 0, migrated.stderr
    report = json.loads(migrated.stdout)
    assert (report["ok"], report["applied"]) == (True, 1)
    assert report["databases"][0]["applied"][0]["version"] == 1
    assert report["databases"][0]["server"].startswith(("MariaDB ", "MySQL "))

    state = json.loads(project.cli("migrate", "status", "--db", "events", "--schemas-dir", "schemas", "--json").stdout)
    assert state["up_to_date"] is True
    assert [v["state"] for v in state["databases"][0]["versions"]] == ["applied"]


def test_failed_migration_exit_code_and_message(project: Project) -> None:
    project.write("events", "V001__bad.sql", "CREATE TABLE a (id INT) ENGINE=InnoDB;\nSELECT * FROM nowhere;\n")
    failed = project.cli("migrate", "--db", "events", "--schemas-dir", "schemas")
    assert failed.returncode == ExitCode.MIGRATION
    (line,) = failed.stderr.strip().splitlines()
    assert line.startswith("error: schemas/events/V001__bad.sql:2: ")
    assert "failed at statement 2 of 2: MySQL error 1146" in line
    assert " — statement 1 is committed and will not run again; fix statement 2" in line
    assert project.passwords["events"] not in failed.stdout + failed.stderr


def test_unreachable_server_exit_code(project: Project) -> None:
    down = project.cli("migrate", "--schemas-dir", "schemas", TICKETCTL_MYSQL__PORT="1")
    assert down.returncode == ExitCode.DATABASE == 7
    assert f"error: cannot connect to MySQL at {project.server.host}:1: " in down.stderr
    assert "ticketctl up" in down.stderr


def test_a_killed_process_leaves_progress_that_the_next_run_resumes(project: Project) -> None:
    """kill -9 in the middle of a file: the history says 'running' after statement 1; the next run does 2 and 3."""
    project.write(
        "events",
        "V001__slow.sql",
        "CREATE TABLE a (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
        "DO SLEEP(2);\n"
        "CREATE TABLE c (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
    )
    process = project.popen("migrate", "--db", "events", "--schemas-dir", "schemas")
    deadline = time.monotonic() + 30
    progress: list[tuple[str, int]] = []
    while time.monotonic() < deadline and progress != [("running", 1)]:
        time.sleep(0.05)
        try:
            progress = [(r["status"], r["statements_applied"]) for r in project.history("events")]
        except Exception:  # the database or the history table is not there yet
            progress = []
    from ticketctl.migrations import status

    (live,) = status(project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas).databases
    process.kill()
    process.communicate(timeout=30)
    assert progress == [("running", 1)]
    (note,) = live.plan.warnings
    assert note.startswith("a migrate is running now: connection ") and f" of {project.users['events']}@" in note
    assert [(r["status"], r["statements_applied"]) for r in project.history("events")] == [("running", 1)]

    resumed = project.cli("migrate", "--db", "events", "--schemas-dir", "schemas", "--json")
    assert resumed.returncode == 0, resumed.stderr
    (applied,) = json.loads(resumed.stdout)["databases"][0]["applied"]
    assert (applied["first_statement"], applied["statements_run"]) == (2, 2)
    assert [(r["status"], r["statements_applied"]) for r in project.history("events")] == [("success", 3)]
    assert {row[0] for row in project.query("events", "SHOW TABLES")} == {"a", "c", "ticketctl_schema_history"}
