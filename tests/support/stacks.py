"""Compose projects of the end-to-end tests: ticketctl run as a user runs it, in a folder of its own.

Each project has its own name and free loopback ports, takes its settings from
environment variables, and removes every container, network and volume with its
project label afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_KEYS = ("mysql", "redis", "elasticsearch", "opensearch", "apps")
PROJECT_LABEL = "com.docker.compose.project"
VENV_BIN = Path(sys.executable).parent


def free_ports(count: int, *, consecutive: int = 1) -> list[int]:
    """``count`` free loopback ports in 30000-32699, below Linux's ephemeral range (32768-60999) so that
    no outgoing connection takes one meanwhile; the last starts a run of ``consecutive`` free ones."""
    import random

    chosen: list[int] = []
    while len(chosen) < count:
        span = consecutive if len(chosen) == count - 1 else 1
        start = random.randrange(30000, 32700 - span)
        block = range(start, start + span)
        if any(port in chosen for port in block):
            continue
        if all(port_is_free(port) for port in block):
            chosen.append(start)
    return chosen


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Run:
    """One CLI invocation's outcome."""

    code: int
    out: str
    err: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Project:
    """A Compose project of one test: its folder, settings (as environment variables) and clean-up."""

    name: str
    folder: Path
    client: Any
    settings: dict[str, str] = field(default_factory=dict)

    def environment(self, **extra: str) -> dict[str, str]:
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_") or k.startswith("TICKETCTL_TEST_")
        }
        return {**inherited, **self.settings, **extra, "NO_COLOR": "1"}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ticketctl", *args]

    def ticketctl(
        self, *args: str, timeout: float = 600, stdin: str | None = None, cwd: Path | None = None, **extra: str
    ) -> Run:
        """Run ticketctl to its end in ``cwd`` (default: the project's folder); ``stdin`` is its input (none:
        /dev/null)."""
        started = time.monotonic()
        done = subprocess.run(
            self.command(*args),
            cwd=cwd or self.folder,
            env=self.environment(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            **({"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}),
        )
        return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def start(self, *args: str, stdin: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
        """Start ticketctl and return at once (``stdin=subprocess.PIPE`` to write to it)."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.folder,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=stdin,
            text=True,
        )

    def containers(self) -> dict[str, Any]:
        # ignore_removed: a container removed between the list and its inspect (an up at work) is not an error.
        label = {"label": f"{PROJECT_LABEL}={self.name}"}
        found = self.client.containers.list(all=True, filters=label, ignore_removed=True)
        return {container.name: container for container in found}

    def ids(self) -> dict[str, str]:
        return {name: container.id for name, container in self.containers().items()}

    def networks(self) -> list[str]:
        return [n.name for n in self.client.networks.list(filters={"label": f"{PROJECT_LABEL}={self.name}"})]

    def volumes(self) -> list[str]:
        return sorted(v.name for v in self.client.volumes.list(filters={"label": f"{PROJECT_LABEL}={self.name}"}))

    def env_file(self) -> dict[str, str]:
        lines = (self.folder / ".env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))

    def set_secret(self, name: str, value: str) -> None:
        """Edit one line of .env, as a user would."""
        path = self.folder / ".env"
        lines = [f"{name}={value}" if line.startswith(f"{name}=") else line for line in path.read_text().splitlines()]
        path.write_text("\n".join(lines) + "\n")

    def container(self, service: str) -> Any:
        return self.client.containers.get(f"{self.name}-{service}-1")

    def cleanup(self) -> None:
        import docker.errors

        for container in self.containers().values():
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        for network in self.client.networks.list(filters={"label": f"{PROJECT_LABEL}={self.name}"}):
            with contextlib.suppress(docker.errors.NotFound):
                network.remove()
        for volume in self.client.volumes.list(filters={"label": f"{PROJECT_LABEL}={self.name}"}):
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)


def search_nofile() -> int:
    """The search container's open-files limit: 65536, or less where this machine's own hard limit is lower."""
    return min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1])


def new_project(folder: Path, client: Any, images: dict[str, str], **settings: str) -> Project:
    """A project of its own name, with free ports and the local images, in ``folder``; extra TICKETCTL_* settings."""
    import secrets

    mysql, redis, search, apps = free_ports(4, consecutive=9)
    name = f"tkt-e2e-{secrets.token_hex(4)}"
    project = Project(name=name, folder=folder, client=client)
    project.settings = {
        "TICKETCTL_PROJECT": name,
        "TICKETCTL_PORTS__MYSQL": str(mysql),
        "TICKETCTL_PORTS__REDIS": str(redis),
        "TICKETCTL_PORTS__SEARCH": str(search),
        "TICKETCTL_PORTS__APPS": str(apps),
        "TICKETCTL_SEARCH__NOFILE": str(search_nofile()),
        "TICKETCTL_SEARCH__HEAP": "512m",
        **{f"TICKETCTL_IMAGES__{key.upper()}": reference for key, reference in images.items()},
        **settings,
    }
    return project
