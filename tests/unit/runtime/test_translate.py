"""Compose names and labels, the create body, and gating of newer Engine features."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.support.kubernetes import FAKE_SECRETS, write_env
from ticketctl.compose.file import ComposeFile, ConfigSpec, ServiceSpec, load_compose_file
from ticketctl.render.compose import render
from ticketctl.runtime.translate import (
    EngineFeatures,
    api_version_at_least,
    config_hash,
    container_labels,
    container_name,
    create_body,
    is_current,
    network_labels,
    network_name,
    volume_labels,
    volume_name,
    writes_start_interval,
)
from ticketctl.stack.types import Dependency, Healthcheck, PortBinding, VolumeMount

SERVICE = ServiceSpec(
    name="mysql",
    image="mysql:8.4",
    command=("mysqld", "--skip-name-resolve"),
    environment=(("MYSQL_ROOT_PASSWORD", "s3cret-value"),),
    ports=(PortBinding("127.0.0.1", 33306, 3306),),
    mounts=(VolumeMount("mysql-data", "/var/lib/mysql"),),
    ulimits=(("nofile", 1024, 2048),),
    healthcheck=Healthcheck(("CMD-SHELL", "true"), 5, 5, 30, 60, 1),
    depends_on=(Dependency("redis", "service_healthy"),),
    stop_grace_period=30,
    restart="unless-stopped",
    networks=("backend",),
    labels=(("io.ticketctl.role", "infrastructure"),),
)
COMPOSE = ComposeFile(
    path=Path("/work/out/docker-compose.yml"),
    name="shop",
    services=(SERVICE,),
    networks={"backend": {"io.ticketctl.project": "shop"}},
    volumes={"mysql-data": {}},
    compose_hashes={"mysql": "c0ffee"},
)


def test_names_follow_compose_v2() -> None:
    assert container_name("shop", "mysql") == "shop-mysql-1"
    assert network_name("shop", "backend") == "shop_backend"
    assert volume_name("shop", "mysql-data") == "shop_mysql-data"


@pytest.mark.parametrize(
    ("version", "minimum", "expected"),
    [("1.41", "1.44", False), ("1.44", "1.44", True), ("1.45", "1.44", True), ("1.9", "1.44", False)],
)
def test_api_versions_compare_numerically(version: str, minimum: str, expected: bool) -> None:
    assert api_version_at_least(version, minimum) is expected


def test_start_interval_is_sent_only_to_api_1_44_and_newer() -> None:
    old = create_body(SERVICE, project="shop", labels={}, features=EngineFeatures("1.41"))
    new = create_body(SERVICE, project="shop", labels={}, features=EngineFeatures("1.44"))
    assert "StartInterval" not in old["Healthcheck"]
    assert new["Healthcheck"]["StartInterval"] == 1_000_000_000
    assert EngineFeatures("1.41").dropped(SERVICE) == ["healthcheck.start_interval"]
    assert EngineFeatures("1.44").dropped(SERVICE) == []
    effective = EngineFeatures("1.41").effective(SERVICE)
    assert effective.healthcheck is not None and effective.healthcheck.start_interval is None


@pytest.mark.parametrize(
    ("setting", "engine_api", "expected"),
    [
        ("auto", "1.44", True),
        ("auto", "1.43", False),
        ("auto", None, False),
        ("true", None, True),
        ("false", "1.45", False),
    ],
)
def test_the_compose_file_has_start_interval_per_setting_or_engine(
    make_settings: Any, setting: str, engine_api: str | None, expected: bool
) -> None:
    settings = make_settings(**{"docker.start_interval": setting})
    assert writes_start_interval(settings, engine_api) is expected


def test_create_body_translates_every_field() -> None:
    body = create_body(SERVICE, project="shop", labels={"a": "b"}, features=EngineFeatures("1.41"))
    assert body["Image"] == "mysql:8.4"
    assert body["Cmd"] == ["mysqld", "--skip-name-resolve"]
    assert body["Env"] == ["MYSQL_ROOT_PASSWORD=s3cret-value"]
    assert body["Labels"] == {"a": "b"}
    assert body["ExposedPorts"] == {"3306/tcp": {}}
    assert body["StopTimeout"] == 30
    host = body["HostConfig"]
    assert host["PortBindings"] == {"3306/tcp": [{"HostIp": "127.0.0.1", "HostPort": "33306"}]}
    assert host["Mounts"] == [
        {"Type": "volume", "Source": "shop_mysql-data", "Target": "/var/lib/mysql", "ReadOnly": False}
    ]
    assert host["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["NetworkMode"] == "shop_backend"
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"shop_backend": {"Aliases": ["shop-mysql-1", "mysql"]}}}
    assert body["Healthcheck"] == {
        "Test": ["CMD-SHELL", "true"],
        "Interval": 5_000_000_000,
        "Timeout": 5_000_000_000,
        "Retries": 30,
        "StartPeriod": 60_000_000_000,
    }


def test_container_labels_are_compose_labels_plus_ticketctl() -> None:
    labels = container_labels(COMPOSE, SERVICE, "abc123", "sha256:ffff")
    assert labels["com.docker.compose.project"] == "shop"
    assert labels["com.docker.compose.service"] == "mysql"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.config-hash"] == "c0ffee"  # Compose's own hash of the service
    assert labels["io.ticketctl.config-hash"] == "abc123"
    assert labels["com.docker.compose.project.working_dir"] == "/work/out"
    assert labels["com.docker.compose.project.config_files"] == "/work/out/docker-compose.yml"
    assert labels["com.docker.compose.depends_on"] == "redis:service_healthy:false"
    assert labels["com.docker.compose.image"] == "sha256:ffff"
    assert labels["com.docker.compose.version"]
    assert labels["io.ticketctl.role"] == "infrastructure"
    assert labels["io.ticketctl.managed-by"] == "ticketctl"
    assert labels["io.ticketctl.project"] == "shop"


def test_network_and_volume_labels() -> None:
    assert network_labels(COMPOSE, "backend")["com.docker.compose.network"] == "backend"
    assert network_labels(COMPOSE, "backend")["com.docker.compose.project"] == "shop"
    assert volume_labels(COMPOSE, "mysql-data")["com.docker.compose.volume"] == "mysql-data"
    assert volume_labels(COMPOSE, "mysql-data")["io.ticketctl.project"] == "shop"


# --------------------------------------------------------------------------- the config hash

BASE = ServiceSpec(
    name="db",
    image="mysql:8.4",
    command=("mysqld",),
    environment=(("A", "1"), ("B", "2")),
    ports=(PortBinding("127.0.0.1", 3306, 3306),),
    configs=(ConfigSpec("init", "/x/init.sh", "/docker-entrypoint-initdb.d/init.sh", 0o755, b"echo hi\n"),),
    healthcheck=Healthcheck(("CMD-SHELL", "true"), 5, 5, 3, 10, 1),
    depends_on=(Dependency("other", "service_started"),),
    labels=(("k", "v"),),
)
IMAGE_ID = "sha256:" + "1" * 64


def test_config_hash_is_stable_across_releases() -> None:
    # A change of this value recreates every user's containers on upgrade: change it only on purpose.
    assert config_hash(BASE, IMAGE_ID) == "5a4b9fb9545d7e4123cb59d1413b29692936e2881a06fb388c8d93969d17c3da"


def test_config_hash_ignores_what_does_not_change_the_container() -> None:
    same = dataclasses.replace(BASE, depends_on=(), profiles=("apps",))
    assert config_hash(same, IMAGE_ID) == config_hash(BASE, IMAGE_ID)


@pytest.mark.parametrize(
    "change",
    [
        {"environment": (("A", "1"), ("B", "3"))},
        {"ports": (PortBinding("127.0.0.1", 3307, 3306),)},
        {"command": ("mysqld", "--x")},
        {"configs": (ConfigSpec("init", "/x/init.sh", "/docker-entrypoint-initdb.d/init.sh", 0o755, b"echo bye\n"),)},
        {"healthcheck": Healthcheck(("CMD-SHELL", "true"), 5, 5, 3, 10, None)},
        {"image": "mysql:8.0"},
    ],
)
def test_config_hash_changes_with_the_container_config(change: dict[str, Any]) -> None:
    assert config_hash(dataclasses.replace(BASE, **change), IMAGE_ID) != config_hash(BASE, IMAGE_ID)


def test_config_hash_changes_with_the_image_id() -> None:
    assert config_hash(BASE, "sha256:" + "2" * 64) != config_hash(BASE, IMAGE_ID)


def test_rendering_twice_gives_the_same_hashes(make_settings: Any) -> None:
    settings = make_settings()
    render(settings)
    path = settings.output_dir / "docker-compose.yml"
    first = {s.name: config_hash(s, IMAGE_ID) for s in load_compose_file(path, environ={}).services}
    render(settings)
    second = {s.name: config_hash(s, IMAGE_ID) for s in load_compose_file(path, environ={}).services}
    assert first == second


@pytest.mark.parametrize(
    ("labels", "current"),
    [
        ({"io.ticketctl.config-hash": "mine", "com.docker.compose.config-hash": "compose"}, True),
        ({"io.ticketctl.config-hash": "older", "com.docker.compose.config-hash": "compose"}, False),
        # created by a ticketctl before io.ticketctl.config-hash: its hash is in Compose's label
        ({"com.docker.compose.config-hash": "mine"}, True),
        # created by `docker compose up`: Compose's hash and the same image
        ({"com.docker.compose.config-hash": "compose", "com.docker.compose.image": "sha256:1"}, True),
        ({"com.docker.compose.config-hash": "compose", "com.docker.compose.image": "sha256:0"}, False),
        ({"com.docker.compose.config-hash": "other", "com.docker.compose.image": "sha256:1"}, False),
        ({}, False),
    ],
)
def test_is_current_accepts_ticketctl_older_ticketctl_and_compose_containers(
    labels: dict[str, str], current: bool
) -> None:
    assert is_current(labels, "mine", "compose", "sha256:1") is current


def _rendered_hashes(make_settings: Any, engine_api: str = "1.44", **values: Any) -> dict[str, str]:
    """The config hash of each service as ``up`` computes it on an Engine of ``engine_api``, for which it renders."""
    settings = make_settings(**values)
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    write_env(settings.output_dir, FAKE_SECRETS)
    render(settings, start_interval=writes_start_interval(settings, engine_api))
    compose = load_compose_file(settings.output_dir / "docker-compose.yml", environ={})
    features = EngineFeatures(engine_api)
    return {service.name: config_hash(features.effective(service), IMAGE_ID) for service in compose.services}


def test_an_older_engine_gets_the_hashes_it_had_when_the_file_held_start_interval(make_settings: Any) -> None:
    """Before Engine 25 the file leaves healthcheck.start_interval out; up had dropped it from the hash already,
    so an upgrade recreates no container there."""
    on_new_engine = _rendered_hashes(make_settings, "1.44")
    settings = make_settings()
    compose = load_compose_file(settings.output_dir / "docker-compose.yml", environ={})
    dropped_by_up = {s.name: config_hash(EngineFeatures("1.41").effective(s), IMAGE_ID) for s in compose.services}
    assert _rendered_hashes(make_settings, "1.41") == dropped_by_up
    assert on_new_engine != dropped_by_up  # the new Engine's file does hold start_interval


def test_config_hashes_of_the_rendered_stack_are_stable_across_releases(make_settings: Any) -> None:
    # A change of these values recreates every user's containers on upgrade: change them only on purpose.
    # Changed on purpose by the Kubernetes work (issue 20): MySQL gets only the root password, a secret-free
    # init script and a probe without -p; Redis starts through its image's entrypoint (its own user); the
    # placeholders run as nobody. Volumes are kept, so the recreation loses nothing.
    assert _rendered_hashes(make_settings) == {
        "mysql": "5d68c1cf9f9a1dcef088697752b3d14d77cd5e8afa7af3c35d8f1bc3e3405e58",
        "redis": "5f15d2cf003ab35933fa653d04e5ea3bc0dc0768fad862f554df8fef1a3abeeb",
        "elasticsearch": "259b66e8f42ad3e4098bc3d413ec212a52a9ac0d1fba839e05c898ef1521f880",
        "api-gateway": "dc6eed83e1124d55add8ee383950f3641cf9730d9f413ae03561fc79b6626105",
        "auth-service": "b936e3cb74b88d0cf15878ac36d6e5e47942998ddbb0da49c3450715f97a714b",
        "events-service": "046f62fe0888f88280c5a0c73b180632f3941dba8f515901e4cdba82864be14c",
        "inventory-service": "1a3dda2bd29278c37ae6437e5da32384d37b888d340bc226bac8570bdf4eb42e",
        "booking-service": "2f9c4710867af985c70c0c1aeb1505f3b0350d6314e08641ea6ee0f6099f1d2e",
        "payment-adapter": "25a27a77a5e0f64cefe9f2c4b9f5887a946d5604dedda4510703777641e5817f",
        "search-service": "73054d96054920efe14bf4dfc3f127b635dec816815b5dc2dfa223c9a03939f2",
        "notification-service": "b51cd83e186f2363c4da94ca14985e78c8609a31719480c9d5ad99443c546cbe",
        "indexer-service": "a146fbd6bb44124172c3b9a3d1de87a118a66b751ac92ac19eb0e23a0908eadf",
    }
