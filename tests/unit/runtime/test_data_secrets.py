"""Do the data volumes know the secrets in effect? The judgement, on the in-memory Engine.

(The login on a running MySQL is proved on the real Engine: tests/e2e/test_daily_use.py.)
"""

from __future__ import annotations

from typing import Any

import pytest

from ticketctl.config.secrets import load_secrets
from ticketctl.project import up
from ticketctl.render.compose import render
from ticketctl.runtime.data_secrets import SECRETS_LABEL, SecretsMismatchError, assess, secrets_label
from ticketctl.stack.model import build_stack

# MySQL's root account is made from the environment once, on the first start; the application users are made
# (and, with migrate --sync-users, given their passwords again) by ticketctl itself.
NAMES = ("MYSQL_ROOT_PASSWORD",)


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
    found = assess(settings, runtime, model, edited)
    assert [(m.volume, m.secrets, m.evidence) for m in found.mismatches] == [
        ("unit_mysql-data", ("MYSQL_ROOT_PASSWORD",), "container")
    ]
    fake_api.remove_container("unit-mysql-1")
    found = assess(settings, runtime, model, edited)
    assert [(m.secrets, m.evidence) for m in found.mismatches] == [(("MYSQL_ROOT_PASSWORD",), "label")]
    assert assess(settings, runtime, model, secrets).agreeing == ("unit_mysql-data",)


def test_a_volume_without_the_label_and_no_container_is_unknown(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    render(settings)
    fake_api.create_volume("unit_mysql-data", "local", {"com.docker.compose.project": "unit"})
    found = assess(settings, runtime, build_stack(settings), load_secrets(settings.output_dir, {}))
    assert (found.mismatches, found.agreeing, found.unknown) == ((), (), ("unit_mysql-data",))
