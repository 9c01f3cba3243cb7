"""The per-service Docker check on the in-memory Engine: what it says of a container by its state and health."""

from __future__ import annotations

from typing import Any

from ticketctl.config.secrets import Secrets
from ticketctl.doctor.core import CheckContext
from ticketctl.doctor.docker import service_check
from ticketctl.project import up


def _check(settings: Any, runtime: Any, service: str) -> Any:
    context = CheckContext(settings, Secrets({}), timeout=5)
    context.shared("docker", lambda: runtime)
    return service_check(service)(context)


def test_a_container_changed_by_hand_fails_even_while_it_is_still_starting(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    up(settings, runtime, environ={})
    redis = next(c for c in fake_api.containers_by_id.values() if c["Name"] == "/unit-redis-1")
    redis["State"]["Health"] = {"Status": "starting", "Log": []}
    fake_api.behaviour["redis"] = "starting"  # and it stays so
    starting = _check(settings, runtime, "redis")
    assert (starting.status, starting.summary) == ("warn", "unit-redis-1 is still starting")

    redis["Config"]["Env"] = [*redis["Config"]["Env"], "TZ=Europe/Paris"]  # recreated by hand, labels copied
    changed = _check(settings, runtime, "redis")
    assert changed.status == "fail"
    assert changed.summary == "unit-redis-1 was changed outside ticketctl: environment TZ: Europe/Paris → (none)"
    assert changed.fix.startswith("ticketctl up --force-recreate redis")
