"""The statements that give restored MySQL accounts the current passwords: hashes only, escaped, per flavor."""

from __future__ import annotations

from ticketctl.clients.mysql import ServerInfo, native_password_hash
from ticketctl.snapshot.accounts import offline_statements

MARIADB = ServerInfo.parse("10.11.19-MariaDB-0+deb12u1")
MYSQL = ServerInfo.parse("8.4.3")


def test_offline_statements_cover_every_account_of_a_changed_user_with_its_hash() -> None:
    sql = offline_statements(
        MARIADB,
        [("root", "%"), ("root", "localhost"), ("events_app", "%"), ("other", "%")],
        {"root": "MYSQL_ROOT_PASSWORD"},
        {"MYSQL_ROOT_PASSWORD": "it's"},
    )
    stored = native_password_hash("it's")
    assert sql.splitlines() == [
        "FLUSH PRIVILEGES;",
        f"SET PASSWORD FOR 'root'@'%' = '{stored}';",
        f"SET PASSWORD FOR 'root'@'localhost' = '{stored}';",
        "FLUSH PRIVILEGES;",
    ]


def test_offline_statements_on_mysql_send_a_caching_sha2_hash_never_the_password() -> None:
    sql = offline_statements(
        MYSQL, [("events_app", "%")], {"events_app": "EVENTS_DB_PASSWORD"}, {"EVENTS_DB_PASSWORD": "s3cr3t-value"}
    )
    line = sql.splitlines()[1]
    assert line.startswith("ALTER USER 'events_app'@'%' IDENTIFIED WITH caching_sha2_password AS '$A$005$")
    assert "s3cr3t-value" not in sql
