"""The clients ``shell`` runs: the right user, the password never in argv, the search request language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import load_settings
from ticketctl.errors import ConfigError
from ticketctl.shell import PASSWORD_VARIABLE, SearchCall, mysql_client, redis_client

SECRETS = Secrets(
    {
        "MYSQL_ROOT_PASSWORD": "root-secret-123456",
        "EVENTS_DB_PASSWORD": "events-secret-123456",
        "INVENTORY_DB_PASSWORD": "inventory-secret-123",
        "BOOKINGS_DB_PASSWORD": "bookings-secret-1234",
        "REDIS_PASSWORD": "redis-secret-1234567",
    }
)


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    return load_settings(None, environ={}, cwd=tmp_path)


def _option(argv: tuple[str, ...], name: str) -> str | None:
    return next((arg.split("=", 1)[1] for arg in argv if arg.startswith(f"--{name}=")), None)


@pytest.mark.parametrize(
    ("database", "user", "schema", "secret"),
    [
        (None, "events_app", "events_db", "events-secret-123456"),
        ("inventory", "inventory_app", "inventory_db", "inventory-secret-123"),
        ("bookings_db", "bookings_app", "bookings_db", "bookings-secret-1234"),
    ],
)
def test_mysql_logs_in_as_the_database_s_own_user(
    settings: Any, database: str | None, user: str, schema: str, secret: str
) -> None:
    command = mysql_client(settings, SECRETS, database)
    assert command.service == "mysql"
    assert (_option(command.argv, "user"), _option(command.argv, "database")) == (user, schema)
    assert command.environment == {PASSWORD_VARIABLE: secret}
    assert not any(secret in arg for arg in command.argv)
    assert command.summary == f"{schema} as {user}"


def test_mysql_root_opens_no_database_unless_named(settings: Any) -> None:
    command = mysql_client(settings, SECRETS, root=True, execute="SELECT 1", table=True)
    assert _option(command.argv, "user") == "root" and _option(command.argv, "database") is None
    assert _option(command.argv, "execute") == "SELECT 1" and "--table" in command.argv
    assert command.environment == {PASSWORD_VARIABLE: "root-secret-123456"}
    named = mysql_client(settings, SECRETS, "events", root=True)
    assert _option(named.argv, "database") == "events_db"


def test_the_mysql_wrapper_reads_the_password_from_an_option_file_on_a_descriptor(settings: Any) -> None:
    command = mysql_client(settings, SECRETS, arguments=["--skip-column-names"])
    shell, flag, script, client, *options = command.argv
    assert (shell, flag, client) == ("sh", "-c", "mysql")
    assert "--defaults-extra-file=/dev/fd/3" in script and f"unset {PASSWORD_VARIABLE}" in script
    assert options[:3] == ["--protocol=TCP", "--host=127.0.0.1", "--port=3306"] and options[-1] == "--skip-column-names"
    assert repr(command).count("secret") == 0  # the environment is left out of repr


def test_an_unknown_database_names_the_choices(settings: Any) -> None:
    with pytest.raises(ConfigError, match="no database 'orders'") as error:
        mysql_client(settings, SECRETS, "orders")
    assert "events (events_db)" in (error.value.hint or "")


def test_a_missing_password_says_how_to_create_it(settings: Any) -> None:
    with pytest.raises(ConfigError, match="EVENTS_DB_PASSWORD: secret not found"):
        mysql_client(settings, Secrets({}))


def test_redis_cli_authenticates_through_its_environment(tmp_path: Path) -> None:
    (tmp_path / "ticketctl.yaml").write_text("redis:\n  db: 3\n")
    settings = load_settings(None, environ={}, cwd=tmp_path)
    command = redis_client(settings, SECRETS, ["INFO", "server"])
    assert command.argv == ("redis-cli", "-h", "127.0.0.1", "-p", "6379", "-n", "3", "INFO", "server")
    assert command.environment == {"REDISCLI_AUTH": "redis-secret-1234567"}


@pytest.mark.parametrize(
    ("line", "call"),
    [
        ("GET /_cat/indices?v", SearchCall("GET", "/_cat/indices?v")),
        ("get _cluster/health", SearchCall("GET", "/_cluster/health")),
        (
            'POST /events/_search {"query": {"match_all": {}}}',
            SearchCall("POST", "/events/_search", b'{"query": {"match_all": {}}}'),
        ),
    ],
)
def test_search_requests_are_method_path_and_body(line: str, call: SearchCall) -> None:
    assert SearchCall.parse(line) == call


@pytest.mark.parametrize("line", ["/_cat/indices", "FETCH /x", "GET"])
def test_a_search_line_that_is_not_a_request_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="METHOD PATH"):
        SearchCall.parse(line)
