"""Each rule of the runner, proved on the real server with small migration files of the test's own."""

from __future__ import annotations

import pymysql
import pytest

from tests.support.migrations import Project
from ticketctl.clients.mysql import ServerError
from ticketctl.errors import ExitCode, LockedError, MigrationError
from ticketctl.migrations import baseline, migrate, plan, repair, status

pytestmark = pytest.mark.integration

CREATE_A = "CREATE TABLE a (id INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
CREATE_C = "CREATE TABLE c (id INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
BROKEN = (
    "-- statement 1 creates a, statement 2 fails, statement 3 creates c\n"
    + CREATE_A
    + ("\nINSERT INTO missing_table VALUES (1);\n" + CREATE_C)
)
FIXED = BROKEN.replace("INSERT INTO missing_table VALUES (1);", "INSERT INTO a VALUES (1);")


@pytest.fixture(autouse=True)
def _in_workdir(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages name files relative to the working directory, as a user in the project folder sees them."""
    monkeypatch.chdir(project.workdir)


def run(project: Project, **kwargs: object) -> object:
    return migrate(project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas, **kwargs)


def tables(project: Project) -> set[str]:
    return {row[0] for row in project.query("events", "SHOW TABLES")} - {"ticketctl_schema_history"}


def test_an_edited_applied_file_is_refused_until_repair(project: Project) -> None:
    path = project.write("events", "V001__create_a.sql", CREATE_A)
    run(project)
    path.write_text(CREATE_A.replace("\n", "\r\n") + "   \n\n", newline="")  # CRLF and trailing blanks: no edit
    run(project)
    path.write_text(CREATE_A.replace("id INT", "id BIGINT"))
    with pytest.raises(MigrationError) as refused:
        run(project)
    assert refused.value.exit_code == ExitCode.MIGRATION
    assert "schemas/events/V001__create_a.sql: version 1 was applied on" in refused.value.message
    assert "the file has changed since" in refused.value.message
    assert "ticketctl migrate repair" in (refused.value.hint or "")
    (state,) = status(
        project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas
    ).databases
    assert [(s.version, s.state) for s in state.states] == [(1, "changed")]

    report = repair(project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas)
    assert [(a.version, a.action) for d in report.databases for a in d.actions] == [(1, "checksum-accepted")]
    (row,) = project.history("events")
    from ticketctl.migrations.files import checksum

    assert row["checksum"] == checksum(path.read_text())
    assert run(project).applied_count == 0  # type: ignore[attr-defined]


def test_a_failing_statement_is_recorded_and_the_fixed_file_resumes_there(project: Project) -> None:
    path = project.write("events", "V001__three_statements.sql", BROKEN)
    with pytest.raises(MigrationError) as failed:
        run(project)
    message = failed.value.message
    assert message.startswith("schemas/events/V001__three_statements.sql:4: ")
    assert "V001 failed at statement 2 of 3: MySQL error 1146" in message
    assert "statement 1 is committed" in (failed.value.hint or "")
    (row,) = project.history("events")
    assert (row["status"], row["statements_applied"], row["statements_total"]) == ("failed", 1, 3)
    assert row["failed_at"] == "events/V001__three_statements.sql:4"  # relative to the schemas folder
    assert row["failed_statement"] == "INSERT INTO missing_table VALUES (1)"
    assert row["error"].startswith("MySQL error 1146: Table ") and "missing_table" in row["error"]
    assert tables(project) == {"a"}

    with pytest.raises(MigrationError) as unchanged:  # the same file again: refused, not re-run
        run(project)
    assert "failed at statement 2 of 3 and the file is unchanged since" in unchanged.value.message
    assert unchanged.value.message.startswith(f"{project.names['events']}: schemas/events/V001__three_statements.sql:4")

    path.write_text(FIXED.replace("id INT PRIMARY KEY", "id INT NOT NULL PRIMARY KEY", 1))  # edits statement 1
    with pytest.raises(MigrationError) as prefix_changed:
        run(project)
    assert "failed after 1 of 3 statements, and those 1 statements have changed" in prefix_changed.value.message

    path.write_text(FIXED)
    resumed = run(project)
    (database,) = resumed.databases  # type: ignore[attr-defined]
    (applied,) = database.applied
    assert (applied.first_statement, applied.statements_run) == (2, 2)  # statement 1 (CREATE TABLE a) not re-run
    (row,) = project.history("events")
    assert (row["status"], row["statements_applied"], row["error"], row["failed_at"]) == ("success", 3, None, None)
    assert tables(project) == {"a", "c"}
    assert project.query("events", "SELECT id FROM a") == [(1,)]


def test_repair_lets_an_unchanged_failed_version_retry(project: Project) -> None:
    project.write("events", "V001__needs_a_table.sql", "INSERT INTO made_by_hand VALUES (7);\n")
    with pytest.raises(MigrationError):
        run(project)
    project.query("events", "CREATE TABLE made_by_hand (id INT) ENGINE=InnoDB")  # the transient cause is gone
    with pytest.raises(MigrationError, match="file is unchanged since"):
        run(project)
    report = repair(project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas)
    assert [a.action for d in report.databases for a in d.actions] == ["failure-accepted"]
    assert run(project).applied_count == 1  # type: ignore[attr-defined]
    assert project.query("events", "SELECT id FROM made_by_hand") == [(7,)]


def test_an_interrupted_version_resumes_after_its_last_recorded_statement(project: Project) -> None:
    """A process killed mid-file leaves status 'running' with its progress; the next run continues from there."""
    path = project.write("events", "V001__three_statements.sql", FIXED)
    run(project)
    # Rewind the record as if the process had died after statement 1 of 3.
    from ticketctl.migrations.files import read_migration

    migration = read_migration(path, "events", project.schemas)
    project.query(
        "events",
        "UPDATE ticketctl_schema_history SET status = 'running', statements_applied = 1, applied_checksum = %s",
        (migration.prefix_checksum(1),),
    )
    project.query("events", "DROP TABLE c")
    project.query("events", "DELETE FROM a")
    (state,) = status(
        project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas
    ).databases
    assert [(s.state, s.detail) for s in state.states] == [("resume", "resumes at statement 2")]
    assert state.plan.warnings == ("a version is marked running but no migrate holds the lock: it was interrupted",)
    applied = run(project).databases[0].applied  # type: ignore[attr-defined]
    assert [(m.first_statement, m.statements_run) for m in applied] == [(2, 2)]
    assert tables(project) == {"a", "c"}


def test_out_of_order_is_refused_unless_allowed(project: Project) -> None:
    project.write("events", "V001__a.sql", CREATE_A)
    project.write("events", "V003__c.sql", CREATE_C)
    run(project)
    project.write("events", "V002__b.sql", "CREATE TABLE b (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")
    with pytest.raises(MigrationError) as refused:
        run(project)
    assert "V002__b.sql: version 2 is pending but V003 is already recorded" in refused.value.message
    assert "--allow-out-of-order" in (refused.value.hint or "")
    assert "b" not in tables(project)
    applied = run(project, allow_out_of_order=True).databases[0].applied  # type: ignore[attr-defined]
    assert [(m.version, m.out_of_order) for m in applied] == [(2, True)]
    assert [(r["version"], r["out_of_order"]) for r in project.history("events")] == [(1, 0), (2, 1), (3, 0)]


def test_target_stops_at_a_version(project: Project) -> None:
    for version, table in ((1, "a"), (2, "b"), (3, "c")):
        project.write("events", f"V00{version}__{table}.sql", f"CREATE TABLE {table} (id INT) ENGINE=InnoDB;\n")
    applied = run(project, target=2).databases[0].applied  # type: ignore[attr-defined]
    assert [m.version for m in applied] == [1, 2]
    assert tables(project) == {"a", "b"}
    (state,) = status(
        project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas
    ).databases
    assert [s.state for s in state.states] == ["applied", "applied", "pending"]


def test_baseline_adopts_an_existing_database(project: Project) -> None:
    project.server.execute(f"CREATE DATABASE `{project.names['events']}`")
    project.query("events", "CREATE TABLE a (id INT PRIMARY KEY) ENGINE=InnoDB")  # built before ticketctl
    project.write("events", "V001__a.sql", CREATE_A)
    project.write("events", "V002__b.sql", "CREATE TABLE b (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")
    with pytest.raises(MigrationError) as refused:
        run(project)
    assert "has 1 tables but no ticketctl history" in refused.value.message
    assert "ticketctl migrate baseline --db events" in (refused.value.hint or "")

    report = baseline(project.settings(), project.secrets(), databases=["events"], version=1)
    assert [(r.name, r.version) for r in report.databases] == [(project.names["events"], 1)]
    applied = run(project).databases[0].applied  # type: ignore[attr-defined]
    assert [m.version for m in applied] == [2]
    assert [(r["version"], r["type"], r["status"]) for r in project.history("events")] == [
        (1, "BASELINE", "success"),
        (2, "SQL", "success"),
    ]
    with pytest.raises(MigrationError, match="already has a ticketctl history"):
        baseline(project.settings(), project.secrets(), databases=["events"])


def test_plan_lists_statements_with_lines_and_implicit_commits(project: Project) -> None:
    project.write("events", "V001__a.sql", CREATE_A + "INSERT INTO a VALUES (1);\n")
    report = plan(project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas)
    (database,) = report.as_dict(statements=True)["databases"]
    (step,) = database["pending"]
    assert [(s["index"], s["where"], s["implicit_commit"]) for s in step["statements"]] == [
        (1, "schemas/events/V001__a.sql:1", True),
        (2, "schemas/events/V001__a.sql:2", False),
    ]
    assert database["exists"] is False  # plan changes nothing: the database is not created
    assert not project.database_exists("events")


def test_missing_database_is_created_by_root_when_the_app_user_may_not(project: Project) -> None:
    user, name = project.users["events"], project.names["events"]
    project.server.execute(f"REVOKE ALL PRIVILEGES ON `{name}`.* FROM '{user}'@'%'")
    project.server.execute(f"GRANT SELECT ON `{name}`.* TO '{user}'@'%'")  # may see it, may not create it

    with pytest.raises(ServerError) as no_root:
        migrate(project.settings(), project.secrets(root=False), databases=["events"], schemas_dir=project.schemas)
    assert f"database {name} does not exist" in no_root.value.message
    assert f"{user} lacks the CREATE privilege" in no_root.value.message
    assert "MYSQL_ROOT_PASSWORD is not set" in no_root.value.message
    assert not project.database_exists("events")

    report = migrate(project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas)
    assert [d.created for d in report.databases] == [True]
    assert project.database_exists("events")


def test_a_root_user_without_create_is_named_with_the_missing_grant(project: Project) -> None:
    user, name = project.users["events"], project.names["events"]
    weak = f"{project.prefix}_adm"
    project.server.execute(f"REVOKE ALL PRIVILEGES ON `{name}`.* FROM '{user}'@'%'")
    project.server.execute(f"GRANT SELECT ON `{name}`.* TO '{user}'@'%'")
    project.server.execute(f"CREATE USER '{weak}'@'%%' IDENTIFIED BY %s", (project.server.root_password,))
    try:
        settings = project.settings(TICKETCTL_MYSQL__ROOT_USER=weak)
        with pytest.raises(ServerError) as denied:
            migrate(settings, project.secrets(), databases=["events"], schemas_dir=project.schemas)
    finally:
        project.server.execute(f"DROP USER '{weak}'@'%'")
    assert f"neither {user} nor {weak} holds the CREATE privilege" in denied.value.message
    assert denied.value.hint == f"as an administrator: GRANT CREATE ON `{name}`.* TO '{weak}'@'%' (or to '{user}'@'%')"
    assert denied.value.exit_code == ExitCode.DATABASE


def test_a_user_without_privileges_is_told_the_grant(project: Project) -> None:
    user, name = project.users["events"], project.names["events"]
    project.server.execute(f"REVOKE ALL PRIVILEGES ON `{name}`.* FROM '{user}'@'%'")
    with pytest.raises(ServerError) as denied:
        run(project)
    assert f"user '{user}' has no privileges on database {name}" in denied.value.message
    assert denied.value.hint == f"as an administrator: GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'%'"


def test_a_wrong_password_names_the_secret_and_never_the_password(project: Project) -> None:
    secrets = project.secrets()
    wrong = dict(secrets) | {"EVENTS_DB_PASSWORD": "not-the-password-123"}
    with pytest.raises(ServerError) as denied:
        migrate(project.settings(), wrong, databases=["events"], schemas_dir=project.schemas)
    assert f"denied access to user '{project.users['events']}'" in denied.value.message
    assert "EVENTS_DB_PASSWORD" in (denied.value.hint or "")
    assert "not-the-password-123" not in denied.value.message + (denied.value.hint or "")


def test_a_held_lock_times_out_naming_its_holder(project: Project) -> None:
    project.write("events", "V001__a.sql", CREATE_A)
    holder = pymysql.connect(
        host=project.server.host,
        port=project.server.port,
        user=project.users["events"],
        password=project.passwords["events"],
    )
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0), CONNECTION_ID()", (f"ticketctl_migrate_{project.names['events']}",))
            got, connection_id = cursor.fetchone()
        assert got == 1
        settings = project.settings(TICKETCTL_MYSQL__LOCK_TIMEOUT="1")
        events: list[str] = []
        with pytest.raises(LockedError) as locked:
            migrate(
                settings,
                project.secrets(),
                databases=["events"],
                schemas_dir=project.schemas,
                on_event=lambda e: events.append(f"{e.kind}: {e.message}"),
            )
    finally:
        holder.close()
    assert locked.value.exit_code == ExitCode.LOCKED
    assert f"held by connection {connection_id} of {project.users['events']}@" in locked.value.message
    assert "was not released within 1s" in locked.value.message
    assert any(e.startswith("lock-wait: waiting up to 1s for connection") for e in events)
    assert tables(project) == set()
    assert run(project).applied_count == 1  # type: ignore[attr-defined]
