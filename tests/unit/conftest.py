"""Fixtures of the unit tests: an in-memory Docker Engine (tests/support/docker_fake.py) and settings for it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.docker_fake import IMAGES, FakeAPI, api_error, fake_runtime
from ticketctl.config.settings import Settings, load_settings
from ticketctl.runtime.docker import DockerRuntime


@pytest.fixture
def fake_api() -> FakeAPI:
    return FakeAPI(images=IMAGES)


@pytest.fixture
def runtime(fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> DockerRuntime:
    monkeypatch.setattr("ticketctl.runtime.health.POLL_SECONDS", 0.02)
    return fake_runtime(fake_api)


@pytest.fixture
def make_settings(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``make_settings(**overrides)``: settings writing into tmp_path, with test images and high ports."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # lock files of this test only

    def make(**values: Any) -> Settings:
        base: dict[str, Any] = {
            "project": "unit",
            "output_dir": str(tmp_path / "out"),
            "images.mysql": "test/mysql:1",
            "images.redis": "test/redis:1",
            "images.elasticsearch": "test/search:1",
            "images.opensearch": "test/opensearch:1",
            "images.apps": "test/apps:1",
            "ports.mysql": 33306,
            "ports.redis": 36379,
            "ports.search": 39200,
            "ports.apps": 38080,
        }
        base.update(values)
        return load_settings(environ={}, cwd=tmp_path, overrides={k: (v, "test") for k, v in base.items()})

    return make


@pytest.fixture
def api_error_factory() -> Any:
    return api_error
