"""The commands that drive the Docker Engine, run through the CLI's error boundary on the in-memory Engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ticketctl.cli.main import run
from ticketctl.initialise import UsersPlan

# A project with its own images and ports, so that nothing of a real stack on this machine is named.
ENVIRONMENT = {
    "TICKETCTL_PROJECT": "unit",
    "TICKETCTL_IMAGES__MYSQL": "test/mysql:1",
    "TICKETCTL_IMAGES__REDIS": "test/redis:1",
    "TICKETCTL_IMAGES__ELASTICSEARCH": "test/search:1",
    "TICKETCTL_IMAGES__APPS": "test/apps:1",
    "TICKETCTL_PORTS__MYSQL": "33306",
    "TICKETCTL_PORTS__REDIS": "36379",
    "TICKETCTL_PORTS__SEARCH": "39200",
    "TICKETCTL_PORTS__APPS": "38080",
}


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime: Any, capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli(*args)`` → (exit code, stdout, stderr), with the fake Engine behind ``connect``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "TICKETCTL_CONFIG", "TICKETCTL_DEBUG", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("ticketctl.cli.stack.connect", lambda settings: runtime)
    # No MySQL behind the fake Engine: `up --no-init` would make the application users there, `plan` read them.
    monkeypatch.setattr("ticketctl.initialise.initialise_users", lambda settings, secrets, emit, services: {})
    monkeypatch.setattr("ticketctl.plan.preview_users", lambda settings, secrets, services, server: UsersPlan())

    def invoke(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exited:
            run(list(args))
        captured = capsys.readouterr()
        return int(exited.value.code or 0), captured.out, captured.err

    return invoke
