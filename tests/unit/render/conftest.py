"""Fixtures of the Kubernetes target's tests: settings from dotted paths, a fixed fake .env, parsing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.kubernetes import FAKE_SECRETS, SettingsFactory, clear_ticketctl_environment, write_env
from ticketctl.config.settings import FIELDS, Settings, load_settings


@pytest.fixture(autouse=True)
def _no_ticketctl_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_ticketctl_environment(monkeypatch)


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
