"""Doctor's container checks against the in-memory Engine: a container Compose would recreate is named."""

from __future__ import annotations

from typing import Any

from tests.support.docker_fake import no_mysql_login
from ticketctl.config.secrets import Secrets
from ticketctl.doctor.core import CheckContext, Status
from ticketctl.doctor.docker import service_check
from ticketctl.project import inspect_project, up


def _context(settings: Any, runtime: Any) -> CheckContext:
    context = CheckContext(settings, Secrets({}), timeout=5)
    context.shared("docker", lambda: runtime)
    return context


def test_containers_of_this_ticketctl_are_current_for_ticketctl_and_compose(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    up(settings, runtime, environ={}, mysql_login=no_mysql_login)
    inspection = {s.service.name: s for s in inspect_project(settings, runtime, environ={}).services}
    assert not inspection["redis"].outdated and not inspection["redis"].compose_would_recreate
    assert service_check("redis")(_context(settings, runtime)).status == Status.OK


def test_a_container_of_an_older_ticketctl_is_kept_but_named_for_compose(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    up(settings, runtime, environ={}, mysql_login=no_mysql_login)
    redis = next(d for d in fake_api.containers_by_id.values() if d["Name"] == "/unit-redis-1")
    labels = redis["Config"]["Labels"]
    labels["com.docker.compose.config-hash"] = labels.pop("io.ticketctl.config-hash")  # as ticketctl 0.1 labelled
    inspection = {s.service.name: s for s in inspect_project(settings, runtime, environ={}).services}
    assert not inspection["redis"].outdated and inspection["redis"].compose_would_recreate
    outcome = service_check("redis")(_context(settings, runtime))
    assert outcome.status == Status.WARN
    assert "`docker compose up` would recreate unit-redis-1" in outcome.summary
    assert outcome.fix == "ticketctl up --force-recreate redis (its volumes are kept)"
    again = up(settings, runtime, environ={}, mysql_login=no_mysql_login)
    assert {r.service: r.action for r in again.services}["redis"] == "unchanged"


def test_a_container_changed_by_hand_fails_even_while_it_is_still_starting(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    up(settings, runtime, environ={}, mysql_login=no_mysql_login)
    redis = next(c for c in fake_api.containers_by_id.values() if c["Name"] == "/unit-redis-1")
    redis["State"]["Health"] = {"Status": "starting", "Log": []}
    fake_api.behaviour["redis"] = "starting"  # and it stays so
    starting = service_check("redis")(_context(settings, runtime))
    assert (starting.status, starting.summary) == (Status.WARN, "unit-redis-1 is still starting")

    redis["Config"]["Env"] = [*redis["Config"]["Env"], "TZ=Europe/Paris"]  # recreated by hand, labels copied
    changed = service_check("redis")(_context(settings, runtime))
    assert changed.status == Status.FAIL
    assert changed.summary == "unit-redis-1 was changed outside ticketctl: environment TZ: Europe/Paris → (none)"
    assert changed.fix is not None and changed.fix.startswith("ticketctl up --force-recreate redis")
