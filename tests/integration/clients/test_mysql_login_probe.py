"""The login probe that tells whether a stack's MySQL data knows the secrets in effect, on the real MariaDB."""

from __future__ import annotations

from pathlib import Path

from tests.support.ports import free_port
from tests.support.servers import MySQLScratch
from ticketctl.clients.mysql import login_probe
from ticketctl.config.settings import load_settings


def test_the_probe_accepts_refuses_or_cannot_tell(mysql_scratch: MySQLScratch, tmp_path: Path) -> None:
    server = mysql_scratch.server
    root, root_password = mysql_scratch.user()
    app, app_password = mysql_scratch.user()
    settings = load_settings(
        environ={},
        cwd=tmp_path,
        overrides={"mysql.root_user": (root, "test"), "mysql.events.user": (app, "test")},
    )
    probe = login_probe(settings)
    assert probe(server.host, server.port, "MYSQL_ROOT_PASSWORD", root_password) is True
    assert probe(server.host, server.port, "EVENTS_DB_PASSWORD", app_password) is True
    assert probe(server.host, server.port, "MYSQL_ROOT_PASSWORD", app_password) is False  # another user's password
    assert probe(server.host, server.port, "EVENTS_DB_PASSWORD", "not-" + app_password) is False
    assert probe(server.host, server.port, "REDIS_PASSWORD", root_password) is None  # no MySQL account of its own
    assert probe("127.0.0.1", free_port(), "MYSQL_ROOT_PASSWORD", root_password) is None  # nothing listens
