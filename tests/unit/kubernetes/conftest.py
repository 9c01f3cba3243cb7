"""Fixtures of the Kubernetes target's tests: settings from dotted paths, a fixed fake .env, parsing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from k8s_helpers import FAKE_SECRETS, write_env

from ticketctl.settings import FIELDS, Settings, load_settings

SettingsFactory = Callable[..., Settings]


@pytest.fixture(autouse=True)
def _no_ticketctl_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's TICKETCTL_* variables must not leak into the settings of these tests."""
    for name in list(os.environ):
        if name.startswith("TICKETCTL_") and not name.startswith("TICKETCTL_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """The output_dir of the settings: where .env lives. Holds the fixed fake .env."""
    write_env(tmp_path, FAKE_SECRETS)
    return tmp_path


@pytest.fixture
def make_settings(project_dir: Path) -> SettingsFactory:
    """Settings with ``{"dotted.path": value}`` overrides, given as their environment variables."""

    def make(overrides: dict[str, Any] | None = None) -> Settings:
        environ = {FIELDS[path].env_var: str(value) for path, value in (overrides or {}).items()}
        return load_settings(environ=environ, cwd=project_dir)

    return make
