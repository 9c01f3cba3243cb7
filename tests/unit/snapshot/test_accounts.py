"""The statements that give restored MySQL accounts the current passwords: escaped, per flavor."""

from __future__ import annotations

from ticketctl.clients.mysql import password_statement
from ticketctl.snapshot.accounts import offline_statements


def test_mariadb_keeps_other_auth_methods_and_mysql_uses_alter_user() -> None:
    assert password_statement("mariadb").startswith("SET PASSWORD FOR %s@%s = PASSWORD(%s)")
    assert password_statement("mysql") == "ALTER USER %s@%s IDENTIFIED BY %s"
    assert password_statement("mysql", retain_current=True).endswith(" RETAIN CURRENT PASSWORD")


def test_offline_statements_cover_every_account_of_a_changed_user_and_escape_values() -> None:
    sql = offline_statements(
        "mysql",
        [("root", "%"), ("root", "localhost"), ("events_app", "%"), ("other", "%")],
        {"root": "MYSQL_ROOT_PASSWORD"},
        {"MYSQL_ROOT_PASSWORD": "it's"},
    )
    assert sql.splitlines() == [
        "FLUSH PRIVILEGES;",
        "ALTER USER 'root'@'%' IDENTIFIED BY 'it\\'s';",
        "ALTER USER 'root'@'localhost' IDENTIFIED BY 'it\\'s';",
        "FLUSH PRIVILEGES;",
    ]
