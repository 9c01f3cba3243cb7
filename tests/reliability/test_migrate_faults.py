"""``kill -9`` of a real ``ticketctl migrate`` in the middle of a migration, then a rerun.

The history table records progress after every statement, so the rerun
resumes at the first statement not recorded. Two cases:

* killed while a harmless statement runs (``DO SLEEP``): the rerun resumes and
  every statement took effect exactly once;
* killed while a statement that commits by itself (DDL) runs on the server:
  the server finishes that statement after the client died, and the rerun
  must neither run it a second time concurrently nor blindly run it again.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.support.reliability import Databases, Process, Workdir, write_migration
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.reliability

STEPS = 6


def _steps_migration() -> str:
    """A log table, then per step: a logged INSERT, a slow harmless statement and a CREATE TABLE (DDL)."""
    lines = [
        "CREATE TABLE applied_log (id INT AUTO_INCREMENT PRIMARY KEY, step INT NOT NULL) "
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"
    ]
    for step in range(1, STEPS + 1):
        lines.append(f"INSERT INTO applied_log (step) VALUES ({step});")
        lines.append("DO SLEEP(0.3);")
        lines.append(f"CREATE TABLE t_{step} (id INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;")
    return "\n".join(lines) + "\n"


def _running_statement(databases: Databases, key: str) -> tuple[int, str] | None:
    """The connection id and statement the application user is running now, if any."""
    rows = databases.query(
        None,
        "SELECT ID, INFO FROM information_schema.PROCESSLIST WHERE USER = %s AND COMMAND = 'Query' "
        "AND INFO IS NOT NULL AND INFO NOT LIKE '%%PROCESSLIST%%'",
        (databases.users[key],),
    )
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def _progress(databases: Databases, key: str) -> tuple[str, int] | None:
    try:
        rows = databases.history(key)
    except Exception:  # the database or its history table does not exist yet
        return None
    return (rows[0]["status"], rows[0]["statements_applied"]) if rows else None


def _kill_when(process: Process, databases: Databases, key: str, statement_prefix: str, after: int) -> int:
    """SIGKILL ``process`` while it runs a statement starting with ``statement_prefix``, once at least
    ``after`` statements are recorded; returns the number recorded when it died."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.popen.poll() is None, process.finish().err
        progress = _progress(databases, key)
        running = _running_statement(databases, key)
        if progress and progress[1] >= after and running and running[1].startswith(statement_prefix):
            process.signal(signal.SIGKILL)
            process.killed()
            final = _progress(databases, key)
            assert final is not None and final[0] == "running"
            return final[1]
        time.sleep(0.02)
    pytest.fail(f"migrate never ran {statement_prefix!r} after statement {after}")


def test_kill_9_in_the_middle_then_rerun_resumes_and_applies_each_statement_once(
    workdir: Workdir, databases: Databases
) -> None:
    workdir.env.update(databases.environment())
    write_migration(workdir, "events", "V001__steps.sql", _steps_migration())
    total = 1 + 3 * STEPS
    process = workdir.start("migrate", "--db", "events", "--schemas-dir", "schemas")
    recorded = _kill_when(process, databases, "events", "DO SLEEP", after=total // 2)
    assert process.popen.returncode == -signal.SIGKILL
    assert [(r["status"], r["statements_applied"]) for r in databases.history("events")] == [("running", recorded)]

    status = workdir.run("migrate", "status", "--db", "events", "--schemas-dir", "schemas", "--json")
    assert status.code == 0, status.err
    (version,) = status.json()["databases"][0]["versions"]
    assert (version["state"], version["detail"]) == ("resume", f"resumes at statement {recorded + 1}")

    rerun = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas", "--json")
    assert rerun.code == 0, rerun.err
    (applied,) = rerun.json()["databases"][0]["applied"]
    assert (applied["first_statement"], applied["statements_run"]) == (recorded + 1, total - recorded)
    (row,) = databases.history("events")
    assert (row["status"], row["statements_applied"], row["statements_total"]) == ("success", total, total)
    # Every logged INSERT took effect exactly once, and every table exists.
    steps = databases.query("events", "SELECT step, COUNT(*) FROM applied_log GROUP BY step ORDER BY step")
    assert steps == [(step, 1) for step in range(1, STEPS + 1)]
    tables = {r[0] for r in databases.query("events", "SHOW TABLES")}
    assert tables == {"applied_log", "ticketctl_schema_history", *(f"t_{step}" for step in range(1, STEPS + 1))}


def test_kill_9_during_a_ddl_statement_the_rerun_waits_for_it_then_refuses_to_guess(
    workdir: Workdir, databases: Databases
) -> None:
    """The server finishes a DDL statement whose client was killed (a 6 s one: under load, a new process
    takes seconds to start); whether it took effect is unknown to the
    rerun, which must wait for it to end, then stop and say how to go on, rather than run it twice."""
    workdir.env.update(databases.environment())
    write_migration(
        workdir,
        "events",
        "V001__slow_ddl.sql",
        "CREATE TABLE a (id INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
        "CREATE TABLE slow ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 AS SELECT SLEEP(6) AS s;\n"
        "CREATE TABLE c (id INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
    )
    name = databases.names["events"]
    process = workdir.start("migrate", "--db", "events", "--schemas-dir", "schemas")
    assert _kill_when(process, databases, "events", "CREATE TABLE slow", after=1) == 1
    assert _running_statement(databases, "events") is not None  # the server still runs the killed client's DDL

    rerun = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas")
    assert rerun.code == ExitCode.MIGRATION, rerun.output
    assert "waiting up to 30s for connection " in rerun.out  # it waited for the orphaned statement to end
    assert rerun.error_line == (
        f"error: {name}: schemas/events/V001__slow_ddl.sql:2: version 1 was interrupted during statement 2 of 3, "
        "which commits by itself, so ticketctl cannot tell whether it took effect — check the database: undo "
        "statement 2 by hand if it took effect, then run 'ticketctl migrate repair --db events' and "
        "'ticketctl migrate': they run it again, then the rest"
    )
    # The orphaned statement did finish on the server; nothing ran it a second time.
    assert databases.query("events", "SELECT COUNT(*) FROM slow") == [(1,)]
    assert {r[0] for r in databases.query("events", "SHOW TABLES")} == {"a", "slow", "ticketctl_schema_history"}

    status = workdir.run("migrate", "status", "--db", "events", "--schemas-dir", "schemas", "--exit-code")
    assert status.code == ExitCode.MIGRATION
    assert "interrupted" in status.out

    # The user's way out: undo statement 2, accept with repair, migrate again.
    databases.query("events", "DROP TABLE slow")
    repaired = workdir.run("migrate", "repair", "--db", "events", "--schemas-dir", "schemas")
    assert repaired.code == 0, repaired.err
    assert " ".join(repaired.out.split()) == (
        f"{name}: V001 events/V001__slow_ddl.sql: statement 2 was checked by hand; the next migrate runs it again"
    )
    resumed = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas", "--json")
    assert resumed.code == 0, resumed.err
    (applied,) = resumed.json()["databases"][0]["applied"]
    assert (applied["first_statement"], applied["statements_run"]) == (2, 2)
    assert databases.query("events", "SELECT COUNT(*) FROM slow") == [(1,)]
    assert [(r["status"], r["statements_applied"]) for r in databases.history("events")] == [("success", 3)]
