"""The Compose file loader: normalisation, refusals and dependency order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ticketctl.compose.file import ServiceSpec, dependency_order, load_compose_file, with_dependencies
from ticketctl.config.secrets import read_env_file
from ticketctl.errors import ConfigError
from ticketctl.render.compose import render
from ticketctl.stack.model import build_stack
from ticketctl.stack.types import Dependency, Healthcheck, PortBinding, SecretRef

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
    assert mysql.ports == (PortBinding("127.0.0.1", 33306, 3306, "tcp"),)
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
    assert Dependency("redis", "service_healthy") in gateway.depends_on
    assert Dependency("auth-service", "service_started") in gateway.depends_on


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
    assert web.ports == (PortBinding("0.0.0.0", 8080, 80), PortBinding("127.0.0.1", 9000, 9000, "udp"))
    assert web.mounts[0].read_only is True
    assert web.healthcheck == Healthcheck(("CMD-SHELL", "true"), 90.0, 0.5, 3, 0.0, None)


# --------------------------------------------------------------------------- order


def _service(name: str, *needs: str) -> ServiceSpec:
    return ServiceSpec(name=name, image="x", depends_on=tuple(Dependency(n, "service_healthy") for n in needs))


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


@pytest.mark.parametrize("values", [{"profiles": ["apps"]}, {"profiles": ["apps"], "search.engine": "opensearch"}])
def test_loading_the_rendered_file_gives_back_the_model(make_settings: Any, values: dict[str, Any]) -> None:
    """What up runs (the rendered file) is what the model says, for every service and every field of it."""
    settings = make_settings(**values)
    render(settings)
    compose = load_compose_file(settings.output_dir / "docker-compose.yml", environ={})
    env = read_env_file(settings.output_dir / ".env")
    assert env is not None
    model = build_stack(settings)
    assert [service.name for service in compose.services] == [service.name for service in model.services]
    for service in model.services:
        loaded = compose.service(service.name)
        environment = {
            name: env.values[value.name] if isinstance(value, SecretRef) else value
            for name, value in service.environment
        }
        assert (loaded.image, loaded.command, dict(loaded.environment)) == (
            service.image,
            service.command,
            environment,
        )
        assert loaded.ports == service.ports  # a file does not know which setting chose a port
        assert loaded.mounts == service.volumes
        assert loaded.healthcheck == service.healthcheck
        assert loaded.depends_on == service.depends_on
        assert (loaded.profiles, loaded.ulimits, loaded.stop_grace_period) == (
            service.profiles,
            service.ulimits,
            service.stop_grace_period,
        )
        # The template writes no config mode: the file gives the target, the model's mode is Kubernetes'.
        assert [(c.name, c.target) for c in loaded.configs] == [(c.name, c.target) for c in service.configs]
        assert dict(loaded.labels)["io.ticketctl.image-setting"] == service.image_setting
