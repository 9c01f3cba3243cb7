"""``env``: the variables to reach the stack from outside Docker, masked unless asked, in three formats."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import load_settings
from ticketctl.errors import ConfigError
from ticketctl.stack.connections import connection_environment, format_environment
from ticketctl.stack.model import build_stack
from ticketctl.stack.types import SecretRef

SECRETS = Secrets(
    {
        "MYSQL_ROOT_PASSWORD": "root-secret-123456",
        "EVENTS_DB_PASSWORD": "events-secret-123456",
        "INVENTORY_DB_PASSWORD": "inv@secret%12345",
        "BOOKINGS_DB_PASSWORD": "bookings-secret-1234",
        "REDIS_PASSWORD": "redis-secret-1234567",
    }
)
CONFIG = "ports: {mysql: 13306, redis: 16379, search: 19200, apps: 18080}\nsearch: {engine: opensearch}\n"


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    (tmp_path / "ticketctl.yaml").write_text(CONFIG)
    return load_settings(None, environ={}, cwd=tmp_path)


def test_the_stack_has_each_database_with_its_own_user_redis_and_search(settings: Any) -> None:
    values = connection_environment(settings, SECRETS).values(show_secrets=True)
    assert values["EVENTS_DATABASE_URL"] == "mysql://events_app:events-secret-123456@127.0.0.1:13306/events_db"
    assert values["INVENTORY_DB_USER"] == "inventory_app" and values["INVENTORY_DB_NAME"] == "inventory_db"
    # A password with URL characters is percent-encoded in the URL and kept as it is beside it.
    assert values["INVENTORY_DATABASE_URL"] == "mysql://inventory_app:inv%40secret%2512345@127.0.0.1:13306/inventory_db"
    assert values["INVENTORY_DB_PASSWORD"] == "inv@secret%12345"
    assert values["BOOKINGS_DB_PORT"] == "13306"
    assert values["REDIS_URL"] == "redis://:redis-secret-1234567@127.0.0.1:16379/0"
    assert (values["SEARCH_URL"], values["SEARCH_ENGINE"], values["SEARCH_INDEX"]) == (
        "http://127.0.0.1:19200",
        "opensearch",
        "events",
    )
    assert "MYSQL_ROOT_PASSWORD" not in json.dumps(values) and "root-secret" not in json.dumps(values)


def test_secrets_are_masked_unless_asked_for(settings: Any) -> None:
    environment = connection_environment(settings, SECRETS)
    masked = environment.values()
    assert masked["EVENTS_DB_PASSWORD"] == "***"
    assert masked["EVENTS_DATABASE_URL"] == "mysql://events_app:***@127.0.0.1:13306/events_db"
    text = "".join(format_environment(environment, fmt) for fmt in ("dotenv", "shell", "json"))
    assert not any(secret in text for secret in SECRETS.values())
    assert environment.has_secrets


def test_an_application_service_gets_what_its_container_gets_with_addresses_from_here(settings: Any) -> None:
    values = connection_environment(settings, SECRETS, "booking-service").values(show_secrets=True)
    container = dict(build_stack(settings).service("booking-service").environment)
    assert list(values) == list(container)
    assert container["MYSQL_HOST"] == "mysql" and values["MYSQL_HOST"] == "127.0.0.1"
    assert (values["MYSQL_PORT"], values["REDIS_PORT"]) == ("13306", "16379")
    assert values["MYSQL_USER"] == "bookings_app" and container["MYSQL_PASSWORD"] == SecretRef("BOOKINGS_DB_PASSWORD")
    assert values["MYSQL_PASSWORD"] == "bookings-secret-1234"
    search = connection_environment(settings, SECRETS, "search-service").values()
    assert search["SEARCH_URL"] == "http://127.0.0.1:19200"


@pytest.mark.parametrize(
    ("target", "first"), [("mysql", "EVENTS_DB_HOST"), ("redis", "REDIS_HOST"), ("opensearch", "SEARCH_URL")]
)
def test_a_server_alone(settings: Any, target: str, first: str) -> None:
    environment = connection_environment(settings, SECRETS, target)
    assert next(iter(environment.values())) == first


def test_an_unknown_service_lists_the_choices(settings: Any) -> None:
    with pytest.raises(ConfigError, match="no service named 'billing'") as error:
        connection_environment(settings, SECRETS, "billing")
    assert "booking-service" in (error.value.hint or "") and "redis" in (error.value.hint or "")


def test_dotenv_and_shell_read_back_to_the_same_values_in_a_shell(settings: Any, tmp_path: Path) -> None:
    secrets = Secrets({**SECRETS, "REDIS_PASSWORD": '~tilde$dollar`tick"q'})
    environment = connection_environment(settings, secrets)
    expected = environment.values(show_secrets=True)
    for fmt, load in (("dotenv", "set -a; . ./vars; set +a"), ("shell", ". ./vars")):
        (tmp_path / "vars").write_text(format_environment(environment, fmt, show_secrets=True))
        names = " ".join(shlex.quote(name) for name in expected)
        script = f'{load}; for n in {names}; do printf "%s=%s\\0" "$n" "$(printenv "$n")"; done'
        out = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
        assert dict(item.split("=", 1) for item in out.split("\0") if item) == expected, fmt


def test_json_carries_the_target_and_whether_secrets_are_shown(settings: Any) -> None:
    document = json.loads(format_environment(connection_environment(settings, SECRETS, "redis"), "json"))
    assert document["target"] == "redis" and document["secrets_shown"] is False
    assert document["variables"]["REDIS_PASSWORD"] == "***"
