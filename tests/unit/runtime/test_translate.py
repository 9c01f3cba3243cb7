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
    network_labels,
    network_name,
    volume_labels,
    volume_name,
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
    assert labels["com.docker.compose.config-hash"] == "abc123"
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


def _rendered_hashes(make_settings: Any, **values: Any) -> dict[str, str]:
    settings = make_settings(**values)
    settings.output_dir.mkdir(parents=True)
    write_env(settings.output_dir, FAKE_SECRETS)
    render(settings)
    compose = load_compose_file(settings.output_dir / "docker-compose.yml", environ={})
    return {service.name: config_hash(service, IMAGE_ID) for service in compose.services}


def test_config_hashes_of_the_rendered_stack_are_stable_across_releases(make_settings: Any) -> None:
    # A change of these values recreates every user's containers on upgrade: change them only on purpose.
    assert _rendered_hashes(make_settings) == {
        "mysql": "3d67cbb3dee1c11acfe12e74bb91675c59cff0b58d0802c39c3e4b98d6de2d47",
        "redis": "089fb8ac5322e9364a943c4c27a43cacabd35dc72418112340c586d5a960f604",
        "elasticsearch": "259b66e8f42ad3e4098bc3d413ec212a52a9ac0d1fba839e05c898ef1521f880",
        "api-gateway": "c92977b6e793d4198c43fbd252d5bf02de2e174ce7b183312c65f05a51f5a421",
        "auth-service": "ff750766981025577b0fe13a9aa10d99135ad3de07cee9f089733897acfcb546",
        "events-service": "ef7bb7aac08bf6db3adb19b0f136da0edc7fa6ad94f34848cb0a2db060e75909",
        "inventory-service": "417574338d2fbfeca8af4485bd6c28879dc67535322c202270c5f779ef5c50d7",
        "booking-service": "ab833219c2dd86cb3f495d5dd8fd1fedcd1667826830f95a986546adea72088c",
        "payment-adapter": "c329214e5a1c229317984c5477fd0bc162913bba7a514bea09be03bd825f6915",
        "search-service": "a58eae28b4b712fac9899100dac5d7cdc825c5b8e2705ce3413190c478b6412c",
        "notification-service": "60f0bf069266522445bdc2f36149d712ef5fcac575c367e7b481fb20d8575725",
        "indexer-service": "a79a2d81d5b844bcad4ecab47629649359dbd8bda2b3a40464b938a1b781efaa",
    }
