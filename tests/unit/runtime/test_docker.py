"""Choosing the Docker endpoint, and an unreachable Engine in one line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ticketctl.errors import DockerError
from ticketctl.runtime.docker import DockerRuntime, resolve_endpoint


def test_docker_host_wins() -> None:
    endpoint = resolve_endpoint({"DOCKER_HOST": "tcp://127.0.0.1:2375", "DOCKER_CONTEXT": "other"})
    assert (endpoint.url, endpoint.source, endpoint.is_local) == ("tcp://127.0.0.1:2375", "DOCKER_HOST", True)


def test_default_is_the_local_socket(tmp_path: Path) -> None:
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    assert (endpoint.url, endpoint.source, endpoint.is_local) == ("unix:///var/run/docker.sock", "default", True)


def _context(config: Path, name: str, host: str) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))


def test_current_context_of_the_docker_config(tmp_path: Path) -> None:
    _context(tmp_path, "remote", "tcp://build-box:2375")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    assert (endpoint.url, endpoint.source, endpoint.is_local) == ("tcp://build-box:2375", "context remote", False)


def test_docker_context_variable_wins_over_the_config(tmp_path: Path) -> None:
    _context(tmp_path, "desktop", "unix:///home/me/.docker/desktop/docker.sock")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "missing"}))
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "desktop"})
    assert endpoint.url == "unix:///home/me/.docker/desktop/docker.sock"


def test_a_missing_context_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DockerError, match="Docker context 'gone' not found") as caught:
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "gone"})
    assert caught.value.hint is not None and "docker context use" in caught.value.hint


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("unix:///nonexistent/docker.sock", "the socket does not exist (Docker is not running)"),
        ("tcp://127.0.0.1:1", "connection refused"),
    ],
)
def test_an_unreachable_engine_is_one_line_with_the_fix(host: str, reason: str) -> None:
    with pytest.raises(DockerError) as caught:
        DockerRuntime.connect({"DOCKER_HOST": host}, timeout=5)
    assert caught.value.message.startswith(f"cannot reach the Docker Engine at {host} (DOCKER_HOST): {reason}")
    assert caught.value.hint is not None and "sudo dockerd" in caught.value.hint and "DOCKER_HOST" in caught.value.hint
    assert "\n" not in caught.value.message
