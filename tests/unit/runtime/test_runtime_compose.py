"""The Compose file loader: interpolation, normalisation, refusals, order and the config hash."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ticketctl.errors import ConfigError
from ticketctl.render import render
from ticketctl.runtime.compose import (
    ConfigSpec,
    DependencySpec,
    HealthSpec,
    PortSpec,
    ServiceSpec,
    config_hash,
    dependency_order,
    interpolate,
    load_compose_file,
    with_dependencies,
)
from ticketctl.secrets import read_env_file

# --------------------------------------------------------------------------- interpolation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$$", "$"),
        ("a$$b", "a$b"),
        ('-p"$$MYSQL_ROOT_PASSWORD"', '-p"$MYSQL_ROOT_PASSWORD"'),
        ("${SET}", "value"),
        ("$SET-x", "value-x"),
        ("${UNSET}", ""),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${UNSET-fallback}", "fallback"),
        ("${SET:+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${UNSET:-${SET}}", "value"),
        ("${SET:?must be set}", "value"),
    ],
)
def test_interpolate_follows_compose(text: str, expected: str) -> None:
    assert interpolate(text, {"SET": "value", "EMPTY": ""}) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?UNSET is missing: run ticketctl render}", "UNSET is missing: run ticketctl render"),
        ("${EMPTY:?gone}", "gone"),
        ("${UNSET?}", "required variable UNSET is missing"),
        ("${OPEN", "unclosed"),
        ("$1", "use $$ for a literal $"),
        ("${A B}", "invalid interpolation"),
    ],
)
def test_interpolate_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("$", r"\$")):
        interpolate(text, {"EMPTY": ""})


# --------------------------------------------------------------------------- the rendered file


@pytest.fixture
def rendered(make_settings: Any) -> Path:
    settings = make_settings()
    render(settings)
    return settings.output_dir / "docker-compose.yml"


def test_loads_the_rendered_file_with_secrets_from_env(rendered: Path) -> None:
    compose = load_compose_file(rendered, environ={})
    secrets = read_env_file(rendered.parent / ".env")
    assert secrets is not None
    assert compose.name == "unit"
    assert [s.name for s in compose.active_services(())] == ["mysql", "redis", "elasticsearch"]
    assert len(compose.active_services(("apps",))) == 12
    mysql = compose.service("mysql")
    environment = dict(mysql.environment)
    assert environment["MYSQL_ROOT_PASSWORD"] == secrets.values["MYSQL_ROOT_PASSWORD"]
    assert mysql.ports == (PortSpec("127.0.0.1", 33306, 3306, "tcp"),)
    assert mysql.mounts[0].volume == "mysql-data" and mysql.mounts[0].target == "/var/lib/mysql"
    assert mysql.configs[0].target == "/docker-entrypoint-initdb.d/01-create-databases.sh"
    assert mysql.configs[0].content.startswith(b"#!/bin/sh")
    assert mysql.configs[0].mode == 0o755
    assert mysql.restart == "unless-stopped"
    assert mysql.stop_grace_period == 30.0
    assert mysql.networks == ("backend",)
    assert mysql.healthcheck is not None
    # $$ in the file is a literal $ for the container's shell, not interpolated by us.
    assert '-p"$MYSQL_ROOT_PASSWORD"' in mysql.healthcheck.test[1]
    assert mysql.healthcheck.start_interval == 1.0 and mysql.healthcheck.start_period == 60.0
    assert dict(mysql.labels)["io.ticketctl.image-setting"] == "images.mysql"
    search = compose.service("elasticsearch")
    assert search.ulimits == (("nofile", 65536, 65536),)
    gateway = compose.service("api-gateway")
    assert DependencySpec("redis", "service_healthy") in gateway.depends_on
    assert DependencySpec("auth-service", "service_started") in gateway.depends_on


def test_process_environment_wins_over_env_file(rendered: Path) -> None:
    compose = load_compose_file(rendered, environ={"REDIS_PASSWORD": "from-the-environment"})
    assert dict(compose.service("redis").environment)["REDIS_PASSWORD"] == "from-the-environment"


def test_missing_secret_names_the_key_and_the_fix(rendered: Path) -> None:
    (rendered.parent / ".env").unlink()
    with pytest.raises(ConfigError) as caught:
        load_compose_file(rendered, environ={})
    assert "services.mysql.environment.MYSQL_ROOT_PASSWORD" in caught.value.message
    assert "run ticketctl render to create .env" in caught.value.message


def test_missing_file_says_to_render(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Compose file not found") as caught:
        load_compose_file(tmp_path / "docker-compose.yml", environ={})
    assert caught.value.hint is not None and "ticketctl render" in caught.value.hint


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "docker-compose.yml"
    path.write_text(body, encoding="utf-8")
    return path


MINIMAL = """
name: demo
services:
  web:
    image: busybox
{extra}
volumes:
  data: {{}}
networks:
  backend: {{}}
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    build: .", "services.web.build: not supported by ticketctl up"),
        ("    privileged: true", "services.web.privileged: not supported by ticketctl up"),
        ("    volumes: ['./src:/src']", "bind mount './src' (use a named volume)"),
        ("    volumes: ['other:/data']", "volume 'other' is not declared"),
        ("    ports: ['8000-8010:8000']", "ranges are not supported"),
        ("    ports: ['70000:80']", "port 70000 is out of range 1-65535"),
        ("    depends_on: [db]", "depends on 'db', which is not a service of the file"),
        ("    healthcheck: {test: [CMD, true], interval: soon}", "expected a duration"),
        ("    restart: sometimes", "unknown restart policy"),
        ("    container_name: fixed", "container_name"),
        ("    networks: [backend, other]", "exactly one network per service"),
    ],
)
def test_unsupported_or_invalid_keys_are_refused_with_their_path(tmp_path: Path, extra: str, message: str) -> None:
    path = _write(tmp_path, MINIMAL.format(extra=extra))
    with pytest.raises(ConfigError) as caught:
        load_compose_file(path, environ={})
    assert message in caught.value.message
    assert str(path) in caught.value.message


def test_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.format(extra="") + "secrets: {}\n")
    with pytest.raises(ConfigError, match="secrets: not supported"):
        load_compose_file(path, environ={})


def test_short_syntax_and_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        MINIMAL.format(
            extra="    command: sh -c 'sleep 1'\n"
            "    environment: [A=1, B]\n"
            "    ports: ['8080:80', '127.0.0.1:9000:9000/udp']\n"
            "    volumes: ['data:/data:ro']\n"
            "    healthcheck: {test: 'true', interval: 1m30s, timeout: 500ms}\n"
            "    networks: [backend]\n"
            "    x-note: ignored\n"
        ),
    )
    web = load_compose_file(path, environ={}).service("web")
    assert web.command == ("sh", "-c", "sleep 1")
    assert web.environment == (("A", "1"), ("B", ""))
    assert web.ports == (PortSpec("0.0.0.0", 8080, 80), PortSpec("127.0.0.1", 9000, 9000, "udp"))
    assert web.mounts[0].read_only is True
    assert web.healthcheck == HealthSpec(("CMD-SHELL", "true"), 90.0, 0.5, 3, 0.0, None)


# --------------------------------------------------------------------------- order


def _service(name: str, *needs: str) -> ServiceSpec:
    return ServiceSpec(name=name, image="x", depends_on=tuple(DependencySpec(n, "service_healthy") for n in needs))


def test_dependency_order_groups_independent_services() -> None:
    services = [_service("app", "db", "cache"), _service("db"), _service("cache"), _service("edge", "app")]
    assert dependency_order(services) == [["cache", "db"], ["app"], ["edge"]]


def test_dependency_cycle_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cycle between a, b"):
        dependency_order([_service("a", "b"), _service("b", "a")])


def test_dependencies_outside_the_run_are_ignored() -> None:
    assert dependency_order([_service("app", "db")]) == [["app"]]


def test_with_dependencies_adds_what_a_named_service_needs(rendered: Path) -> None:
    compose = load_compose_file(rendered, environ={})
    active = compose.active_services(("apps",))
    names = [s.name for s in with_dependencies(compose, active, ["booking-service"])]
    assert names == ["mysql", "redis", "inventory-service", "booking-service", "payment-adapter"]
    with pytest.raises(ConfigError, match="no service named 'nope'"):
        with_dependencies(compose, active, ["nope"])


# --------------------------------------------------------------------------- the config hash

BASE = ServiceSpec(
    name="db",
    image="mysql:8.4",
    command=("mysqld",),
    environment=(("A", "1"), ("B", "2")),
    ports=(PortSpec("127.0.0.1", 3306, 3306),),
    configs=(ConfigSpec("init", "/x/init.sh", "/docker-entrypoint-initdb.d/init.sh", 0o755, b"echo hi\n"),),
    healthcheck=HealthSpec(("CMD-SHELL", "true"), 5, 5, 3, 10, 1),
    depends_on=(DependencySpec("other", "service_started"),),
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
        {"ports": (PortSpec("127.0.0.1", 3307, 3306),)},
        {"command": ("mysqld", "--x")},
        {"configs": (ConfigSpec("init", "/x/init.sh", "/docker-entrypoint-initdb.d/init.sh", 0o755, b"echo bye\n"),)},
        {"healthcheck": HealthSpec(("CMD-SHELL", "true"), 5, 5, 3, 10, None)},
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
