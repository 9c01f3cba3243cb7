"""The up/down/status core against an in-memory Engine (see conftest.FakeAPI)."""

from __future__ import annotations

import io
import tarfile
import time
from typing import Any

import pytest

from tests.support.docker_fake import no_mysql_login
from ticketctl.config.secrets import Secrets
from ticketctl.errors import DockerError, LockedError, PortConflictError
from ticketctl.events import Event
from ticketctl.project import down, status, up
from ticketctl.render.compose import render
from ticketctl.runtime.events import PullEvent, ResourceEvent, ServiceEvent
from ticketctl.runtime.health import ServiceFailedError
from ticketctl.runtime.lock import project_lock

INFRA = ["unit-mysql-1", "unit-redis-1", "unit-elasticsearch-1"]


def _up(settings: Any, runtime: Any, **options: Any) -> Any:
    options.setdefault("environ", {})
    options.setdefault("mysql_login", no_mysql_login)
    return up(settings, runtime, **options)


def test_up_from_nothing_creates_network_volumes_and_healthy_containers(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    events: list[Event] = []
    report = _up(make_settings(), runtime, on_event=events.append)
    assert sorted(fake_api.actions("create")) == sorted(INFRA)
    assert fake_api.actions("create-network") == ["unit_backend"]
    assert sorted(fake_api.actions("create-volume")) == [
        "unit_elasticsearch-data",
        "unit_mysql-data",
        "unit_redis-data",
    ]
    assert [(r.service, r.action, r.health) for r in report.services] == [
        ("mysql", "created", "healthy"),
        ("redis", "created", "healthy"),
        ("elasticsearch", "created", "healthy"),
    ]
    assert report.changed and report.created_networks == ("unit_backend",)
    assert ServiceEvent("mysql", "healthy", "created", "healthy", "", 0.0).service in {
        e.service for e in events if isinstance(e, ServiceEvent) and e.phase == "healthy"
    }


def test_the_mysql_init_script_is_copied_before_the_container_starts(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    _up(make_settings(), runtime)
    assert fake_api.calls.index(("copy", "unit-mysql-1")) < fake_api.calls.index(("start", "unit-mysql-1"))
    with tarfile.open(fileobj=io.BytesIO(fake_api.archives["unit-mysql-1"])) as archive:
        [member] = archive.getmembers()
        assert member.name == "docker-entrypoint-initdb.d/01-create-databases.sql"
        assert member.mode == 0o755
        content = archive.extractfile(member)
        assert content is not None and b"CREATE DATABASE IF NOT EXISTS" in content.read()


def test_a_second_up_changes_nothing(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    settings = make_settings()
    first = _up(settings, runtime)
    fake_api.calls.clear()
    second = _up(settings, runtime)
    assert [r.container_id for r in second.services] == [r.container_id for r in first.services]
    assert {r.action for r in second.services} == {"unchanged"}
    assert not second.changed
    assert [c for c in fake_api.calls if c[0] not in ("healthy",)] == []


def test_changing_redis_recreates_redis_alone_and_keeps_its_volume(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    first = {r.service: r.container_id for r in _up(make_settings(), runtime).services}
    fake_api.calls.clear()
    report = _up(make_settings(**{"redis.maxmemory": "128mb"}), runtime)
    actions = {r.service: r.action for r in report.services}
    assert actions == {"mysql": "unchanged", "redis": "recreated", "elasticsearch": "unchanged"}
    assert fake_api.actions("remove") == ["unit-redis-1"] and fake_api.actions("create") == ["unit-redis-1"]
    assert fake_api.actions("remove-volume") == [] and "unit_redis-data" in fake_api.volumes_by_name
    after = {r.service: r.container_id for r in report.services}
    assert after["mysql"] == first["mysql"] and after["redis"] != first["redis"]


def test_force_recreate_recreates_everything(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    settings = make_settings()
    _up(settings, runtime)
    report = _up(settings, runtime, force_recreate=True)
    assert {r.action for r in report.services} == {"recreated"}


def test_a_stopped_container_is_started_not_recreated(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    settings = make_settings()
    _up(settings, runtime)
    fake_api.stop("unit-redis-1")
    fake_api.calls.clear()
    report = _up(settings, runtime)
    assert {r.service: r.action for r in report.services}["redis"] == "started"
    assert fake_api.actions("create") == [] and fake_api.actions("start") == ["unit-redis-1"]


def test_a_container_created_but_never_started_is_recreated(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    """What an interrupted run leaves: a created container that may lack its init script."""
    settings = make_settings()
    _up(settings, runtime)
    fake_api.remove_container("unit-mysql-1")
    _up(settings, runtime, services=["redis"])  # unrelated work
    # simulate: created, then interrupted before copy and start
    fake_api.create_container_from_config(
        {
            "Image": "test/mysql:1",
            "HostConfig": {"PortBindings": {}},
            "Labels": {
                "com.docker.compose.project": "unit",
                "com.docker.compose.service": "mysql",
            },
        },
        "unit-mysql-1",
    )
    fake_api.calls.clear()
    report = _up(settings, runtime)
    assert {r.service: r.action for r in report.services}["mysql"] == "recreated"
    assert fake_api.calls.index(("copy", "unit-mysql-1")) < fake_api.calls.index(("start", "unit-mysql-1"))
    assert len([c for c in fake_api.containers_by_id.values() if c["Name"] == "/unit-mysql-1"]) == 1


def test_dependencies_start_in_order_independent_services_in_parallel(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    fake_api.health_gate = set(INFRA)  # healthy only once all three have started: they must start in parallel
    report = _up(make_settings(profiles=["apps"]), runtime)
    assert len(report.services) == 12
    calls = fake_api.calls
    became_healthy = {name: calls.index(("healthy", name)) for kind, name in calls if kind == "healthy"}
    started = {name: calls.index(("start", name)) for kind, name in calls if kind == "start"}
    for app, needs in {
        "booking-service": ["mysql", "redis"],
        "indexer-service": ["mysql", "elasticsearch"],
        "api-gateway": ["redis", "elasticsearch"],
    }.items():
        for need in needs:
            assert became_healthy[f"unit-{need}-1"] < started[f"unit-{app}-1"]
    assert started["unit-inventory-service-1"] < started["unit-booking-service-1"]  # service_started
    assert started["unit-auth-service-1"] < started["unit-api-gateway-1"]


def test_an_unhealthy_service_fails_with_its_logs_and_leaves_no_container(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    fake_api.behaviour["mysql"] = "unhealthy"
    with pytest.raises(ServiceFailedError) as caught:
        _up(make_settings(), runtime)
    assert caught.value.service == "mysql"
    assert "turned unhealthy" in caught.value.message
    assert caught.value.health_output == "probe failed: connection refused"
    assert caught.value.exit_code == 6
    assert fake_api.containers_by_id == {}
    assert fake_api.networks_by_name == {}
    assert set(fake_api.volumes_by_name) == {"unit_elasticsearch-data", "unit_mysql-data", "unit_redis-data"}


def test_a_container_that_exits_fails_at_once_with_secrets_masked(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    fake_api.behaviour["redis"] = "exit"
    started = time.monotonic()
    with pytest.raises(ServiceFailedError) as caught:
        _up(make_settings(), runtime, wait_timeout=60)
    assert time.monotonic() - started < 10
    error = caught.value
    assert error.service == "redis" and "exited with code 1" in error.reason
    assert error.logs[-1] == "FATAL: cannot start, password=***"
    assert "password=***" in error.message


def test_secrets_are_masked_without_render_too(
    make_settings: Any, fake_api: Any, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    render(settings)
    monkeypatch.setattr("ticketctl.config.masking._KNOWN", set())  # a fresh process that did not render
    fake_api.behaviour["redis"] = "exit"
    with pytest.raises(ServiceFailedError) as caught:
        _up(settings, runtime, render=False)
    assert caught.value.logs[-1] == "FATAL: cannot start, password=***"


def test_keep_on_failure_leaves_the_containers(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    fake_api.behaviour["redis"] = "exit"
    with pytest.raises(ServiceFailedError):
        _up(make_settings(), runtime, keep_on_failure=True)
    assert len(fake_api.containers_by_id) == 3


def test_a_service_that_never_becomes_healthy_times_out(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    fake_api.behaviour["elasticsearch"] = "never"
    started = time.monotonic()
    with pytest.raises(ServiceFailedError) as caught:
        _up(make_settings(), runtime, service_timeout=1.0)
    assert 0.9 < time.monotonic() - started < 6
    assert "not healthy after" in caught.value.reason and "--service-timeout" in caught.value.reason
    with pytest.raises(ServiceFailedError) as overall:
        _up(make_settings(), runtime, wait_timeout=1.0)
    assert "--wait-timeout" in overall.value.reason
    assert fake_api.containers_by_id == {}


def test_a_failure_keeps_containers_that_were_already_there(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    settings = make_settings()
    before = {r.service: r.container_id for r in _up(settings, runtime).services}
    fake_api.behaviour["redis"] = "exit"
    with pytest.raises(ServiceFailedError):
        _up(make_settings(**{"redis.maxmemory": "64mb"}), runtime)
    remaining = {c["Name"].lstrip("/"): c["Id"] for c in fake_api.containers_by_id.values()}
    assert remaining == {"unit-mysql-1": before["mysql"], "unit-elasticsearch-1": before["elasticsearch"]}
    assert "unit_backend" in fake_api.networks_by_name


def test_a_taken_port_stops_up_before_anything_is_created(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    fake_api.foreign_ports.append(
        {
            "Id": "x",
            "Names": ["/other-redis-1"],
            "Labels": {"com.docker.compose.project": "other", "com.docker.compose.service": "redis"},
            "Ports": [{"IP": "0.0.0.0", "PrivatePort": 6379, "PublicPort": 36379, "Type": "tcp"}],
        }
    )
    with pytest.raises(PortConflictError) as caught:
        _up(make_settings(), runtime)
    assert caught.value.message == (
        "port 36379 (ports.redis) for redis is taken by container other-redis-1 of Compose project 'other'"
    )
    assert caught.value.hint is not None and "TICKETCTL_PORTS__REDIS" in caught.value.hint
    assert caught.value.exit_code == 5
    assert fake_api.calls == []


def test_containers_of_a_profile_not_enabled_are_no_orphans(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    """As in Compose: `up` without --profile leaves the containers `up --profile apps` started alone."""
    _up(make_settings(profiles=["apps"]), runtime)
    report = _up(make_settings(), runtime, remove_orphans=True)
    assert report.orphans == () and report.removed_orphans == ()
    assert {r.action for r in report.services} == {"unchanged"}
    assert len(fake_api.containers_by_id) == 12


def test_orphans_are_reported_and_removed_on_request(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    _up(make_settings(profiles=["apps"]), runtime)
    opensearch = {"search.engine": "opensearch", "ports.search": 39201}
    report = _up(make_settings(**opensearch), runtime)
    assert report.orphans == ("unit-elasticsearch-1",)  # the file no longer defines elasticsearch
    assert len(fake_api.containers_by_id) == 13
    report = _up(make_settings(**opensearch), runtime, remove_orphans=True)
    assert report.removed_orphans == ("unit-elasticsearch-1",) and report.orphans == ()
    assert len(fake_api.containers_by_id) == 12


def test_only_named_services_and_their_dependencies(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    report = _up(make_settings(profiles=["apps"]), runtime, services=["events-service"])
    assert [r.service for r in report.services] == ["mysql", "events-service"]


def test_missing_images_are_pulled_with_progress(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    del fake_api.images["test/redis:1"]
    events: list[Event] = []
    report = _up(make_settings(), runtime, on_event=events.append)
    assert report.pulled_images == ("test/redis:1",)
    assert fake_api.actions("pull") == ["test/redis:1"]
    assert PullEvent("test/redis:1", "Downloading", "layer1", 5, 10) in events


def test_transient_pull_errors_are_retried(
    make_settings: Any, fake_api: Any, runtime: Any, api_error_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    del fake_api.images["test/redis:1"]
    fake_api.pull_script = [
        api_error_factory(429, "toomanyrequests: rate limit"),
        api_error_factory(503, "unavailable"),
    ]
    report = _up(make_settings(), runtime)
    assert fake_api.actions("pull") == ["test/redis:1"] * 3
    assert report.pulled_images == ("test/redis:1",)


def test_a_failed_pull_names_the_image_and_its_setting(
    make_settings: Any, fake_api: Any, runtime: Any, api_error_factory: Any
) -> None:
    del fake_api.images["test/mysql:1"]
    fake_api.pull_script = [api_error_factory(404, "pull access denied for test/mysql, repository does not exist")]
    with pytest.raises(DockerError) as caught:
        _up(make_settings(), runtime)
    assert caught.value.message.startswith("cannot pull test/mysql:1 (images.mysql) for mysql: pull access denied")
    assert caught.value.hint is not None
    assert "docker load" in caught.value.hint and "TICKETCTL_IMAGES__MYSQL" in caught.value.hint
    assert fake_api.actions("pull") == ["test/mysql:1"]  # not retried
    assert fake_api.actions("create") == []


def test_initialise_runs_once_everything_is_healthy(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    seen: list[tuple[str, int, frozenset[str]]] = []

    def initialise(settings: Any, secrets: Secrets, on_event: Any, services: frozenset[str]) -> dict[str, int]:
        assert isinstance(secrets, Secrets) and "MYSQL_ROOT_PASSWORD" in secrets
        seen.append((settings.project, len(fake_api.actions("healthy")), services))
        return {"applied": 3}

    report = _up(make_settings(), runtime, initialise=initialise)
    assert seen == [("unit", 3, frozenset({"mysql", "redis", "elasticsearch"}))] and report.initialised
    assert report.as_dict()["initialisation"] == {"applied": 3}
    report = _up(make_settings(), runtime, initialise=initialise, wait=False)
    assert len(seen) == 1 and not report.initialised


def test_up_waits_for_a_concurrent_up_and_refuses_after_the_lock_timeout(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    with project_lock(runtime.endpoint.url, "unit", "up", timeout=1), pytest.raises(LockedError):
        _up(settings, runtime, lock_timeout=0.3)
    assert fake_api.actions("create") == []


def test_a_create_race_with_another_machine_is_a_locked_error(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    """The lock is per machine; on a shared Engine the fixed container names are the backstop."""
    real_create = fake_api.create_container_from_config

    def create_twice(config: dict[str, Any], name: str) -> dict[str, str]:
        if name == "unit-redis-1" and not fake_api.actions("create-race"):
            fake_api.record("create-race", name)
            real_create(config, name)  # the other machine's create lands first
        return real_create(config, name)

    fake_api.create_container_from_config = create_twice
    with pytest.raises(LockedError, match="unit-redis-1 was created by someone else"):
        _up(make_settings(), runtime)
    names = [c["Name"] for c in fake_api.containers_by_id.values()]
    assert names.count("/unit-redis-1") == 1


def test_down_keeps_volumes_unless_asked(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    settings = make_settings(profiles=["apps"])
    _up(settings, runtime)
    events: list[Event] = []
    report = down(settings, runtime, on_event=events.append)
    assert len(report.removed_containers) == 12 and fake_api.containers_by_id == {}
    assert report.removed_networks == ("unit_backend",)
    assert report.kept_volumes == ("unit_elasticsearch-data", "unit_mysql-data", "unit_redis-data")
    assert report.list_volumes_command == "docker volume ls --filter label=com.docker.compose.project=unit"
    assert ResourceEvent("volume", "unit_mysql-data", "kept") in events
    # Applications stop before the infrastructure they depend on.
    stops = fake_api.actions("stop")
    assert stops.index("unit-api-gateway-1") < stops.index("unit-redis-1")
    assert stops.index("unit-booking-service-1") < stops.index("unit-mysql-1")
    report = down(settings, runtime, volumes=True)
    assert report.removed_volumes == ("unit_elasticsearch-data", "unit_mysql-data", "unit_redis-data")
    assert fake_api.volumes_by_name == {}


def test_status_shows_each_service_missing_ones_and_orphans(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    assert [(r.service, r.state) for r in status(make_settings(), runtime)] == [
        ("mysql", "missing"),
        ("redis", "missing"),
        ("elasticsearch", "missing"),
    ]
    _up(make_settings(profiles=["apps"]), runtime, services=["events-service"])
    rows = status(make_settings(), runtime)
    assert [(r.service, r.state, r.health, r.orphan, r.inactive_profiles) for r in rows] == [
        ("mysql", "running", "healthy", False, ()),
        ("redis", "missing", None, False, ()),
        ("elasticsearch", "missing", None, False, ()),
        ("events-service", "running", None, False, ("apps",)),  # started with --profile apps: no orphan
    ]
    mysql = rows[0]
    assert mysql.ports == ("127.0.0.1:33306->3306/tcp",)
    assert mysql.image == "test/mysql:1" and mysql.uptime is not None and mysql.started_at is not None
    assert mysql.container_id is not None and mysql.as_dict()["id"] == mysql.container_id[:12]


# --------------------------------------------------------------------------- the preview of up (ticketctl plan)


WRITES = {"create", "start", "stop", "remove", "copy", "pull", "create-network", "create-volume", "remove-network"}


def _preview(settings: Any, runtime: Any, **options: Any) -> Any:
    from ticketctl.project import preview_up

    options.setdefault("environ", {})
    return preview_up(settings, runtime, **options)


def _actions(preview: Any) -> dict[str, str]:
    return {plan.service.name: plan.action for plan in preview.converge.services}


def test_the_preview_of_a_first_up_plans_everything_and_writes_nothing(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    preview = _preview(settings, runtime)
    assert _actions(preview) == {"mysql": "created", "redis": "created", "elasticsearch": "created"}
    assert preview.converge.networks == ("unit_backend",)
    assert preview.converge.volumes == ("unit_elasticsearch-data", "unit_mysql-data", "unit_redis-data")
    assert preview.render is not None and {f.status for f in preview.render.files} == {"created"}
    assert not settings.output_dir.exists()  # rendered in memory only
    assert [call for call in fake_api.calls if call[0] in WRITES] == []
    assert preview.changed


def test_the_preview_agrees_with_what_up_then_does(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    _up(make_settings(), runtime)
    assert set(_actions(_preview(make_settings(), runtime)).values()) == {"unchanged"}
    changed = make_settings(**{"redis.maxmemory": "128mb", "ports.redis": 36380})
    preview = _preview(changed, runtime)
    assert _actions(preview) == {"mysql": "unchanged", "redis": "recreated", "elasticsearch": "unchanged"}
    (redis,) = [plan for plan in preview.converge.services if plan.service.name == "redis"]
    assert [change.field for change in redis.changes] == ["command", "ports"]
    assert redis.changes[0].live == "… --maxmemory 256mb --maxmemory-policy …"
    assert redis.changes[0].wanted == "… --maxmemory 128mb --maxmemory-policy …"
    assert redis.changes[1].setting == "ports.redis"
    assert [f.path.name for f in preview.render.files if f.status == "updated"] == ["docker-compose.yml"]
    report = _up(changed, runtime)
    assert {r.service: r.action for r in report.services} == _actions(preview)


def test_a_change_made_outside_ticketctl_is_drift_that_up_leaves_alone(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    _up(settings, runtime)
    mysql = next(c for c in fake_api.containers_by_id.values() if c["Name"] == "/unit-mysql-1")
    mysql["HostConfig"]["Memory"] = 512 * 2**20  # docker update --memory 512m
    redis = next(c for c in fake_api.containers_by_id.values() if c["Name"] == "/unit-redis-1")
    redis["Config"]["Env"] = [*redis["Config"]["Env"], "TZ=Europe/Paris"]  # recreated by hand, labels copied
    preview = _preview(settings, runtime)
    assert set(_actions(preview).values()) == {"unchanged"}
    drift = {plan.service.name: [c.describe() for c in plan.drift] for plan in preview.converge.services}
    assert drift == {
        "mysql": ["memory limit (HostConfig.Memory, set by docker update): 512 MiB → (none)"],
        "redis": ["environment TZ: Europe/Paris → (none)"],
        "elasticsearch": [],
    }
    assert preview.converge.drifted and not preview.converge.changed


def test_the_preview_names_an_image_whose_tag_moved_and_a_stopped_container(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    _up(settings, runtime)
    fake_api.images["test/redis:1"] = "sha256:" + "f" * 64  # the tag now points to another image
    fake_api.stop("unit-mysql-1")
    preview = _preview(settings, runtime)
    assert _actions(preview) == {"mysql": "started", "redis": "recreated", "elasticsearch": "unchanged"}
    plans = {plan.service.name: plan for plan in preview.converge.services}
    assert [c.describe() for c in plans["redis"].changes] == [
        "image ID (images.redis): bbbbbbbbbbbb → ffffffffffff (test/redis:1 points to it now)"
    ]
    assert [c.describe() for c in plans["mysql"].changes] == ["state: exited → running"]


def test_the_preview_reports_taken_ports_orphans_and_taken_names_without_raising(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = make_settings()
    _up(settings, runtime, services=["mysql"])
    fake_api.foreign_ports.append(
        {
            "Id": "x",
            "Names": ["/other-redis"],
            "Labels": {},
            "Ports": [{"IP": "127.0.0.1", "PublicPort": 36379, "PrivatePort": 6379, "Type": "tcp"}],
        }
    )
    fake_api.create_container_from_config(
        {"Image": "test/apps:1", "Labels": {}, "HostConfig": {}}, name="unit-elasticsearch-1"
    )
    preview = _preview(settings, runtime)
    assert [conflict.describe() for conflict in preview.converge.port_conflicts] == [
        "port 36379 (ports.redis) for redis is taken by container other-redis"
    ]
    assert preview.converge.name_conflicts == ("unit-elasticsearch-1 exists but is not a container of project unit",)
    assert preview.converge.blocked


# --------------------------------------------------------------------------- restart


def test_restart_keeps_the_containers_and_waits_until_they_are_healthy(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    from ticketctl.project import restart

    settings = make_settings()
    before = {r.service: r.container_id for r in _up(settings, runtime).services}
    fake_api.calls.clear()
    events: list[Event] = []
    report = restart(settings, runtime, on_event=events.append)
    assert sorted(fake_api.actions("restart")) == sorted(INFRA)
    assert fake_api.actions("create") == [] and fake_api.actions("remove") == []
    assert {r.service: (r.container_id, r.action, r.health) for r in report.services} == {
        service: (container_id, "restarted", "healthy") for service, container_id in before.items()
    }
    phases = [e.phase for e in events if isinstance(e, ServiceEvent) and e.service == "redis"]
    assert phases[0] == "restarting" and phases[-1] == "healthy"


def test_restart_of_one_service_fails_at_once_when_it_turns_unhealthy(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    from ticketctl.project import restart

    settings = make_settings()
    _up(settings, runtime)
    fake_api.behaviour["redis"] = "unhealthy"
    started = time.monotonic()
    with pytest.raises(ServiceFailedError, match="redis: turned unhealthy") as failure:
        restart(settings, runtime, ["redis"])
    assert time.monotonic() - started < 5
    assert "ticketctl logs redis" in (failure.value.hint or "")
    assert fake_api.actions("restart") == ["unit-redis-1"]


def test_restart_of_a_service_without_a_container_says_how_to_start_it(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    from ticketctl.errors import ExitCode, TicketctlError
    from ticketctl.project import restart

    settings = make_settings()
    _up(settings, runtime, services=["redis"])
    with pytest.raises(TicketctlError, match="mysql has no container") as missing:
        restart(settings, runtime, ["mysql"])
    assert missing.value.exit_code == ExitCode.MISSING
    assert fake_api.actions("restart") == []


# --------------------------------------------------------------------------- an image's own volumes (VOLUME)


def _anonymous(fake_api: Any) -> set[str]:
    return {name for name, volume in fake_api.volumes_by_name.items() if not volume["Labels"]}


def _cache_volume(fake_api: Any, container: str) -> str:
    [name] = [m["Name"] for m in fake_api._find(container)["Mounts"] if m["Destination"] == "/cache"]
    return str(name)


def test_a_recreate_hands_an_image_s_own_volume_to_the_new_container(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    fake_api.image_volumes["test/redis:1"] = ["/data", "/cache"]  # /data is the stack's redis-data, /cache is not
    _up(make_settings(), runtime)
    first = _cache_volume(fake_api, "unit-redis-1")
    assert _anonymous(fake_api) == {first}
    report = _up(make_settings(**{"redis.maxmemory": "64mb"}), runtime)
    assert {r.service: r.action for r in report.services}["redis"] == "recreated"
    assert _cache_volume(fake_api, "unit-redis-1") == first and _anonymous(fake_api) == {first}
    # Taken over, it is neither a change nor drift: the next up leaves the container alone.
    again = _up(make_settings(**{"redis.maxmemory": "64mb"}), runtime)
    assert {r.service: r.action for r in again.services}["redis"] == "unchanged"
    preview = _preview(make_settings(**{"redis.maxmemory": "64mb"}), runtime)
    assert [(plan.action, plan.drift) for plan in preview.converge.services if plan.service.name == "redis"] == [
        ("unchanged", ())
    ]


def test_a_failed_run_removes_the_anonymous_volumes_of_the_containers_it_created(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    fake_api.image_volumes["test/search:1"] = ["/cache"]
    fake_api.behaviour["elasticsearch"] = "never"
    with pytest.raises(ServiceFailedError):
        _up(make_settings(), runtime, service_timeout=0.5)
    assert fake_api.containers_by_id == {} and _anonymous(fake_api) == set()


def test_a_failed_recreate_keeps_the_container_that_took_over_an_image_s_volume(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    fake_api.image_volumes["test/redis:1"] = ["/data", "/cache"]
    _up(make_settings(), runtime)
    first = _cache_volume(fake_api, "unit-redis-1")
    fake_api.behaviour["redis"] = "exit"
    events: list[Event] = []
    with pytest.raises(ServiceFailedError):
        _up(make_settings(**{"redis.maxmemory": "64mb"}), runtime, on_event=events.append)
    kept = fake_api._find("unit-redis-1")
    assert kept["State"]["Status"] == "exited" and _cache_volume(fake_api, "unit-redis-1") == first
    assert any("unit-redis-1 is kept, stopped" in getattr(e, "message", "") for e in events)
    fake_api.behaviour["redis"] = "healthy"
    report = _up(make_settings(**{"redis.maxmemory": "32mb"}), runtime)
    assert {r.service: r.action for r in report.services}["redis"] == "recreated"
    assert _cache_volume(fake_api, "unit-redis-1") == first


def test_down_removes_an_image_s_own_volumes_only_with_volumes(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    fake_api.image_volumes["test/redis:1"] = ["/data", "/cache"]
    settings = make_settings()
    _up(settings, runtime)
    first = _cache_volume(fake_api, "unit-redis-1")
    report = down(settings, runtime)
    assert first not in report.kept_volumes and _anonymous(fake_api) == {first}
    _up(settings, runtime)
    second = _cache_volume(fake_api, "unit-redis-1")
    report = down(settings, runtime, volumes=True)
    assert second in report.removed_volumes and first not in report.removed_volumes
    assert _anonymous(fake_api) == {first}  # a plain down's leftover: no container names it any more
