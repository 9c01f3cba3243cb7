"""Fixtures for the migration tests: a real MariaDB/MySQL server, and per-test databases and users.

The server comes only from the environment that ``scripts/test-services up``
exports: ``TICKETCTL_TEST_MYSQL_HOST``, ``_PORT``, ``_ROOT_USER`` and
``_ROOT_PASSWORD``. Without them the tests are skipped, except under CI, where
a missing server fails the run (``tests/support/servers.server_missing``).

Each test gets three uniquely named databases and application users (created as
root, dropped afterwards), and its own schemas folder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.support.migrations import KEYS, PREFIX, SERVER_VARIABLES, MySQLServer, Project
from tests.support.servers import server_missing


@pytest.fixture(scope="session")
def mysql_server() -> MySQLServer:
    missing = [name for name in SERVER_VARIABLES if not os.environ.get(name)]
    if missing:
        server_missing("MariaDB (MySQL protocol)", f"{', '.join(missing)} not set")
    server = MySQLServer(
        host=os.environ["TICKETCTL_TEST_MYSQL_HOST"],
        port=int(os.environ["TICKETCTL_TEST_MYSQL_PORT"]),
        root_user=os.environ["TICKETCTL_TEST_MYSQL_ROOT_USER"],
        root_password=os.environ["TICKETCTL_TEST_MYSQL_ROOT_PASSWORD"],
    )
    try:
        anonymous = server.execute("SELECT CONCAT(\"''@'\", host, \"'\") FROM mysql.user WHERE user = ''")
        (skip_name_resolve,) = server.execute("SELECT @@skip_name_resolve")[0]
    except pymysql.err.MySQLError as error:
        pytest.fail(f"test server at {server.host}:{server.port} does not answer: {error}")
    if anonymous and not skip_name_resolve:
        # 127.0.0.1 resolves to localhost, and ''@'localhost' outranks the tests' 'user'@'%' accounts.
        pytest.fail(
            f"test server at {server.host}:{server.port} has anonymous accounts ({', '.join(r[0] for r in anonymous)}) "
            "that shadow 'user'@'%' logins: start it with --skip-name-resolve or drop them"
        )
    return server


@pytest.fixture
def project(mysql_server: MySQLServer, tmp_path: Path) -> Iterator[Project]:
    """Fresh users with ALL on their (not yet created) databases, as the stack's init script grants."""
    prefix = PREFIX + uuid.uuid4().hex[:8]
    created = Project(mysql_server, prefix, tmp_path)
    created.schemas.mkdir()
    for key in KEYS:
        name, user = f"{prefix}_{key}", f"{prefix}_{key[:3]}"
        created.names[key], created.users[key] = name, user
        created.passwords[key] = f"pw-{uuid.uuid4().hex}"
        mysql_server.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (created.passwords[key],))
        mysql_server.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'%'")
    try:
        yield created
    finally:
        for key in KEYS:
            mysql_server.execute(f"DROP DATABASE IF EXISTS `{created.names[key]}`")
            mysql_server.execute(f"DROP USER IF EXISTS '{created.users[key]}'@'%'")
