"""What the remote-endpoint tests share: ticketctl as a real process configured by environment only, and accounts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Where ticketctl would find a Docker Engine: nowhere. Any Docker call fails.
DEAD_DOCKER_HOST = "unix:///nonexistent/ticketctl-remote-tests/docker.sock"
SECRET_NAMES = (
    "MYSQL_ROOT_PASSWORD",
    "EVENTS_DB_PASSWORD",
    "INVENTORY_DB_PASSWORD",
    "BOOKINGS_DB_PASSWORD",
    "REDIS_PASSWORD",
    "SEARCH_PASSWORD",
)
DATABASE_KEYS = ("events", "inventory", "bookings")
RUN_TIMEOUT = 180  # seconds; a ticketctl command here takes well under one


@dataclass(frozen=True)
class Run:
    """One finished ``ticketctl`` process."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return f"ticketctl {' '.join(self.args)} → {self.code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@dataclass
class Ticketctl:
    """``python -m ticketctl`` in an empty folder, configured only by ``TICKETCTL_*`` variables and secrets.

    The parent's ``TICKETCTL_*`` variables and secrets are dropped, Docker is
    switched off and ``DOCKER_HOST`` points at a socket that does not exist.
    Every run is kept, so that a test can check that no secret reached any output.
    """

    workdir: Path
    environ: dict[str, str]
    runs: list[Run] = field(default_factory=list)

    def __call__(self, *args: str, **changes: str | None) -> Run:
        """Run ``ticketctl ARGS``; ``changes`` set (a string) or remove (None) variables for this run only."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("TICKETCTL_") and name not in SECRET_NAMES and name != "DOCKER_HOST"
        }
        env.update(self.environ)
        env.update(
            {
                "DOCKER_HOST": DEAD_DOCKER_HOST,
                "TICKETCTL_DOCKER__ENABLED": "false",
                "NO_COLOR": "1",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        for name, value in changes.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        completed = subprocess.run(
            [sys.executable, "-m", "ticketctl", *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        run = Run(tuple(args), completed.returncode, completed.stdout, completed.stderr)
        self.runs.append(run)
        return run

    def secret_values(self) -> list[str]:
        return [value for name, value in self.environ.items() if name in SECRET_NAMES]


def ticketctl_in(workdir: Path, environ: Mapping[str, str]) -> Ticketctl:
    assert not any((workdir / name).exists() for name in (".env", "ticketctl.yaml")), "settings come from env only"
    return Ticketctl(workdir, dict(environ))


@dataclass
class ManagedAccounts:
    """Three databases (not created: migrate creates them) and their application users, on one server."""

    names: dict[str, str]
    users: dict[str, str]
    passwords: dict[str, str]

    def environ(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for key in DATABASE_KEYS:
            env[f"TICKETCTL_MYSQL__{key.upper()}__NAME"] = self.names[key]
            env[f"TICKETCTL_MYSQL__{key.upper()}__USER"] = self.users[key]
            env[f"{key.upper()}_DB_PASSWORD"] = self.passwords[key]
        return env
