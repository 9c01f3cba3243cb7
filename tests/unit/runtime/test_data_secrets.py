"""Do the data volumes know the secrets in effect? The judgement, on the in-memory Engine, with a scripted
MySQL login (the real login: tests/integration/clients/test_mysql_login_probe.py and tests/e2e/test_daily_use.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from ticketctl.config.secrets import load_secrets
from ticketctl.project import up as project_up
from ticketctl.render.compose import render
from ticketctl.runtime.data_secrets import (
    ROTATED_FILENAME,
    SECRETS_LABEL,
    SecretsMismatchError,
    assess,
    check_new_secrets,
    record_rotation,
    secrets_label,
)
from ticketctl.stack.model import build_stack

# MySQL's root account is made from the environment once, on the first start; the application users are made
# (and, with migrate --sync-users, given their passwords again) by ticketctl itself.
NAMES = ("MYSQL_ROOT_PASSWORD",)


class ScriptedLogin:
    """MySQL's answer to each password (True accepts, False refuses, None: no answer); records each try."""

    def __init__(self, answers: dict[str, bool | None] | None = None):
        self.answers = answers or {}
        self.tries: list[tuple[str, int, str, str]] = []

    def __call__(self, host: str, port: int, secret: str, password: str) -> bool | None:
        self.tries.append((host, port, secret, password))
        return self.answers.get(password)


def up(settings: Any, runtime: Any, **options: Any) -> Any:
    options.setdefault("mysql_login", ScriptedLogin())
    return project_up(settings, runtime, **options)


def _stack_up(make_settings: Any, runtime: Any) -> Any:
    settings = make_settings()
    up(settings, runtime, services=["redis", "mysql"], environ={})
    return settings


def test_the_volume_records_a_keyed_digest_of_each_secret_never_the_value(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = _stack_up(make_settings, runtime)
    secrets = load_secrets(settings.output_dir, {})
    label = fake_api.volumes_by_name["unit_mysql-data"]["Labels"][SECRETS_LABEL]
    assert label == secrets_label("unit", "mysql-data", NAMES, secrets)
    assert [item.split(":")[0] for item in label.split(",")] == list(NAMES)
    assert all(secrets[name] not in label for name in NAMES)
    assert SECRETS_LABEL not in fake_api.volumes_by_name["unit_redis-data"]["Labels"]  # Redis reads it at each start


def test_a_lost_env_is_refused_before_anything_is_written_or_recreated(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = _stack_up(make_settings, runtime)
    (settings.output_dir / ".env").unlink()
    compose = (settings.output_dir / "docker-compose.yml").read_text()
    fake_api.calls.clear()
    with pytest.raises(SecretsMismatchError) as refused:
        up(settings, runtime, environ={})
    assert "unit_mysql-data (MYSQL_ROOT_PASSWORD would be generated anew)" in str(refused.value)
    assert "down --volumes" in (refused.value.hint or "")
    assert not (settings.output_dir / ".env").exists()
    assert (settings.output_dir / "docker-compose.yml").read_text() == compose
    assert not [call for call in fake_api.calls if call[0] in ("create", "start", "stop", "remove")]


def test_a_secret_given_in_the_environment_is_not_generated(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    settings = _stack_up(make_settings, runtime)
    old = dict(load_secrets(settings.output_dir, {}))
    (settings.output_dir / ".env").unlink()
    report = up(settings, runtime, services=["mysql"], environ=old)  # the old passwords, exported
    assert {r.action for r in report.services} == {"unchanged"}


def test_with_mysql_stopped_its_container_then_the_volume_label_decide(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = _stack_up(make_settings, runtime)
    model = build_stack(settings)
    secrets = dict(load_secrets(settings.output_dir, {}))
    edited = {**secrets, "MYSQL_ROOT_PASSWORD": "edited-by-hand-0123"}
    fake_api.stop("unit-mysql-1")
    found = assess(settings, runtime, model, edited, login=ScriptedLogin())
    assert [(m.volume, m.secrets, m.evidence) for m in found.mismatches] == [
        ("unit_mysql-data", ("MYSQL_ROOT_PASSWORD",), "container")
    ]
    fake_api.remove_container("unit-mysql-1")
    found = assess(settings, runtime, model, edited, login=ScriptedLogin())
    assert [(m.secrets, m.evidence) for m in found.mismatches] == [(("MYSQL_ROOT_PASSWORD",), "label")]
    assert assess(settings, runtime, model, secrets, login=ScriptedLogin()).agreeing == ("unit_mysql-data",)


def test_after_a_rotation_its_record_beside_env_decides_over_the_label(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    """`secrets rotate` changed the password inside MySQL; the volume's label cannot change, its record does."""
    settings = _stack_up(make_settings, runtime)
    model = build_stack(settings)
    secrets = dict(load_secrets(settings.output_dir, {}))
    rotated = {**secrets, "MYSQL_ROOT_PASSWORD": "rotated-value-0123"}
    fake_api.remove_container("unit-mysql-1")
    assert [m.evidence for m in assess(settings, runtime, model, rotated, login=ScriptedLogin()).mismatches] == [
        "label"
    ]
    record_rotation(settings, rotated)
    assert (settings.output_dir / ROTATED_FILENAME).stat().st_mode & 0o777 == 0o600
    assert rotated["MYSQL_ROOT_PASSWORD"] not in (settings.output_dir / ROTATED_FILENAME).read_text()
    assert assess(settings, runtime, model, rotated, login=ScriptedLogin()).agreeing == ("unit_mysql-data",)
    stale = assess(settings, runtime, model, secrets, login=ScriptedLogin()).mismatches
    assert [(m.secrets, m.evidence) for m in stale] == [(("MYSQL_ROOT_PASSWORD",), "label")]


def test_a_volume_without_the_label_and_no_container_is_unknown(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    render(settings)
    fake_api.create_volume("unit_mysql-data", "local", {"com.docker.compose.project": "unit"})
    found = assess(
        settings, runtime, build_stack(settings), load_secrets(settings.output_dir, {}), login=ScriptedLogin()
    )
    assert (found.mismatches, found.agreeing, found.unknown) == ((), (), ("unit_mysql-data",))


def test_a_running_mysql_is_asked_whether_it_accepts_secrets_edited_in_env(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    """A password changed inside MySQL and then in .env is accepted; one changed in .env alone is refused; without
    an answer the container's own environment decides."""
    settings = _stack_up(make_settings, runtime)
    model = build_stack(settings)
    edited = {**load_secrets(settings.output_dir, {}), "MYSQL_ROOT_PASSWORD": "edited-by-hand-0123"}
    rotated = ScriptedLogin({"edited-by-hand-0123": True})
    found = assess(settings, runtime, model, edited, login=rotated)
    assert (found.mismatches, found.agreeing) == ((), ("unit_mysql-data",))
    assert rotated.tries == [("127.0.0.1", 33306, "MYSQL_ROOT_PASSWORD", "edited-by-hand-0123")]
    found = assess(settings, runtime, model, edited, login=ScriptedLogin({"edited-by-hand-0123": False}))
    assert [(m.secrets, m.evidence) for m in found.mismatches] == [(("MYSQL_ROOT_PASSWORD",), "login")]
    assert "MySQL refuses the login with MYSQL_ROOT_PASSWORD" in found.mismatches[0].describe()
    found = assess(settings, runtime, model, edited, login=ScriptedLogin())
    assert [(m.secrets, m.evidence) for m in found.mismatches] == [(("MYSQL_ROOT_PASSWORD",), "container")]


def test_up_with_a_refused_password_changes_nothing(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    settings = _stack_up(make_settings, runtime)
    edited = {"MYSQL_ROOT_PASSWORD": "edited-by-hand-0123"}
    fake_api.calls.clear()
    with pytest.raises(SecretsMismatchError):
        up(settings, runtime, environ=edited, mysql_login=ScriptedLogin({"edited-by-hand-0123": False}))
    assert not [call for call in fake_api.calls if call[0] in ("create", "start", "stop", "remove")]


def test_data_older_than_the_label_is_tried_while_mysql_starts_and_refused_in_seconds(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    """A volume without the label and no container: up starts MySQL and tries the login as soon as it runs,
    instead of waiting out the health budget for an `Access denied`."""
    settings = make_settings()
    render(settings)
    fake_api.create_volume("unit_mysql-data", "local", {"com.docker.compose.project": "unit"})
    fake_api.behaviour["mysql"] = "never"  # as MySQL whose root password is not the data's: never healthy
    login = ScriptedLogin({load_secrets(settings.output_dir, {})["MYSQL_ROOT_PASSWORD"]: False})
    with pytest.raises(SecretsMismatchError) as refused:
        up(settings, runtime, services=["mysql"], environ={}, mysql_login=login, service_timeout=60)
    assert "unit_mysql-data (MySQL refuses the login with MYSQL_ROOT_PASSWORD)" in str(refused.value)
    assert login.tries and login.tries[0][2] == "MYSQL_ROOT_PASSWORD"
    assert "unit_mysql-data" in fake_api.volumes_by_name  # the data is never touched


def test_render_asks_the_engine_only_for_a_new_secret_that_data_holds(make_settings: Any, runtime: Any) -> None:
    settings = make_settings()
    asked: list[str] = []

    def connect() -> Any:
        asked.append("engine")
        return runtime

    check_new_secrets(settings, {}, ("REDIS_PASSWORD",), connect, ScriptedLogin())  # Redis reads it at each start
    assert asked == []
    check_new_secrets(settings, {}, ("MYSQL_ROOT_PASSWORD",), lambda: None, ScriptedLogin())  # no Engine: no data
    check_new_secrets(settings, {}, ("MYSQL_ROOT_PASSWORD",), connect, ScriptedLogin())  # no volume yet
    assert asked == ["engine"]
