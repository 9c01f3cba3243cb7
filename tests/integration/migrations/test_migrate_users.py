"""migrate makes the application users it needs, as the root user, and no password ever travels in SQL text.

The text check records every statement pymysql sends (``Connection.query``, the COM_QUERY
text the server logs and shows in SHOW PROCESSLIST): MariaDB writes
``CREATE USER ... IDENTIFIED BY '<password>'`` verbatim into its general and binary logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from tests.support.migrations import KEYS, Project
from ticketctl.clients.mysql import LOGIN_REFUSED, ServerError, native_password_hash
from ticketctl.errors import ExitCode
from ticketctl.initialise import preview_migrations
from ticketctl.migrations import migrate
from ticketctl.plan import PlanOptions, plan

pytestmark = pytest.mark.integration

CREATE_A = "CREATE TABLE a (id INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL text this process sends to a server while the test runs."""
    texts: list[str] = []
    original = pymysql.connections.Connection.query

    def recording(self: Any, sql: Any, unbuffered: bool = False) -> Any:
        texts.append(sql.decode("utf-8", "replace") if isinstance(sql, bytes) else str(sql))
        return original(self, sql, unbuffered)

    monkeypatch.setattr(pymysql.connections.Connection, "query", recording)
    yield texts


@pytest.fixture
def no_users(project: Project) -> Project:
    """The project's databases and users do not exist yet, as on a server the stack has just initialised."""
    for key in KEYS:
        project.server.execute(f"DROP USER IF EXISTS '{project.users[key]}'@'%'")
    for key in KEYS:
        project.write(key, "V001__create_a.sql", CREATE_A)
    return project


def _login(project: Project, key: str, password: str, database: str | None = None) -> None:
    pymysql.connect(
        host=project.server.host,
        port=project.server.port,
        user=project.users[key],
        password=password,
        database=database,
    ).close()


def test_missing_users_are_created_as_root_with_their_hash_and_rights_on_their_own_database(
    no_users: Project, sent: list[str]
) -> None:
    project = no_users
    report = migrate(project.settings(), project.secrets(), schemas_dir=project.schemas)
    assert [(database.account, database.created, len(database.applied)) for database in report.databases] == [
        ("created", True, 1)
    ] * 3
    for key in KEYS:
        _login(project, key, project.passwords[key], project.names[key])
        stored = project.server.execute(
            "SELECT authentication_string FROM mysql.user WHERE User = %s AND Host = '%%'", (project.users[key],)
        )
        assert stored == [(native_password_hash(project.passwords[key]),)]
        others = [project.names[other] for other in KEYS if other != key]
        for other in others:
            with pytest.raises(pymysql.err.OperationalError) as denied:
                _login(project, key, project.passwords[key], other)
            assert denied.value.args[0] == 1044
    assert any(text.startswith("CREATE USER IF NOT EXISTS") for text in sent)
    for password in project.passwords.values():
        assert not [text for text in sent if password in text]

    again = migrate(project.settings(), project.secrets(root=False), schemas_dir=project.schemas)
    assert [database.account for database in again.databases] == [None] * 3  # no root password needed now


def test_without_the_root_password_a_missing_user_is_the_login_error(no_users: Project) -> None:
    project = no_users
    with pytest.raises(ServerError) as denied:
        migrate(project.settings(), project.secrets(root=False), databases=["events"], schemas_dir=project.schemas)
    assert f"denied access to user '{project.users['events']}'" in denied.value.message
    assert not project.database_exists("events")


def test_a_refused_password_is_set_only_with_sync_users(project: Project, sent: list[str]) -> None:
    """A typo in .env must not change the password other clients use; --sync-users (the setup Job) does."""
    project.write("events", "V001__create_a.sql", CREATE_A)
    old = project.passwords["events"]
    project.passwords["events"] = new = "rotated-" + old
    with pytest.raises(ServerError) as denied:
        migrate(project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas)
    assert denied.value.exit_code == ExitCode.DATABASE and "EVENTS_DB_PASSWORD" in (denied.value.hint or "")
    _login(project, "events", old)

    report = migrate(
        project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas, sync_users=True
    )
    assert report.databases[0].account == "password-set"
    _login(project, "events", new, project.names["events"])
    with pytest.raises(pymysql.err.OperationalError) as refused:
        _login(project, "events", old)
    assert refused.value.args[0] == 1045
    assert any(text.startswith(("ALTER USER", "SET PASSWORD")) for text in sent)  # by hash: MariaDB SET PASSWORD
    assert not [text for text in sent if new in text or old in text]

    project.passwords["events"] = newer = "again-" + new  # the same through the command line
    result = project.cli("migrate", "--db", "events", "--schemas-dir", "schemas", "--sync-users", "--json")
    assert result.returncode == 0, result.stderr
    assert '"account": "password-set"' in result.stdout and newer not in result.stdout + result.stderr
    _login(project, "events", newer)


def test_sync_users_leaves_a_user_whose_password_works_alone(project: Project, sent: list[str]) -> None:
    project.write("events", "V001__create_a.sql", CREATE_A)
    report = migrate(
        project.settings(), project.secrets(), databases=["events"], schemas_dir=project.schemas, sync_users=True
    )
    assert report.databases[0].account is None
    assert not [text for text in sent if "ALTER USER" in text or "CREATE USER" in text]


def test_plan_names_the_users_up_would_make_reads_their_databases_as_root_and_makes_none(
    project: Project, sent: list[str]
) -> None:
    """``up`` makes a missing user before migrating; ``plan`` says so, and reads that database as the root user."""
    project.use_packaged_schemas()
    migrate(project.settings(), project.secrets())
    project.server.execute(f"DROP USER '{project.users['events']}'@'%'")
    sent.clear()

    users, status, _ = preview_migrations(project.settings(), project.secrets(), frozenset({"mysql"}), "running")
    assert [(account.database, account.action) for account in users.accounts] == [
        ("events", "created"),
        ("inventory", None),
        ("bookings", None),
    ]
    assert status is not None
    events = status.databases[0]
    assert events.exists and events.has_history and events.pending == ()  # read as root: its history is there
    assert not [text for text in sent if "CREATE" in text.upper() or "GRANT" in text.upper()]
    with pytest.raises(pymysql.err.OperationalError) as refused:
        _login(project, "events", project.passwords["events"])
    assert refused.value.args[0] in LOGIN_REFUSED  # plan made nothing (MariaDB refuses a user it lacks either way)

    report = plan(project.settings(), project.secrets(), None, PlanOptions(initialise=False))
    assert report.exit_code == ExitCode.CHANGES
    (finding,) = [f for f in report.findings if f.section == "users"]
    assert finding.message == (
        f"{project.users['events']} would be created as the root user, with ALL on {project.names['events']} only"
    )
    # Without the root password up cannot make it either: the plan stops where up would, naming the login.
    refused_plan = plan(project.settings(), project.secrets(root=False), None, PlanOptions(initialise=False))
    assert refused_plan.exit_code == ExitCode.DATABASE
    assert f"denied access to user '{project.users['events']}'" in refused_plan.errors[0].error.message
