"""A stack folder of one e2e test: ``ticketctl`` as a real process, its settings and the Engine's view of it.

The Compose project is the test's ``DockerScratch.project``, so everything the
stack creates is removed with the scratch resources afterwards.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.servers import DockerScratch, LocalImages

PROJECT_LABEL = "com.docker.compose.project"


def free_ports(count: int, *, consecutive: int = 1) -> list[int]:
    """``count`` free loopback ports in 30000-32699, below Linux's ephemeral range, so that no outgoing
    connection takes one meanwhile; the last starts a run of ``consecutive`` free ones."""
    chosen: list[int] = []
    while len(chosen) < count:
        span = consecutive if len(chosen) == count - 1 else 1
        start = random.randrange(30000, 32700 - span)
        block = range(start, start + span)
        if not any(port in chosen for port in block) and all(_port_is_free(port) for port in block):
            chosen.append(start)
    return chosen


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class StackFolder:
    """``folder`` with settings as environment variables (project, ports, local images) and ``ticketctl`` in it."""

    folder: Path
    scratch: DockerScratch
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, folder: Path, scratch: DockerScratch, images: LocalImages) -> StackFolder:
        mysql, redis, search, apps = free_ports(4, consecutive=9)
        settings = {
            "TICKETCTL_PROJECT": scratch.project,
            "TICKETCTL_PORTS__MYSQL": str(mysql),
            "TICKETCTL_PORTS__REDIS": str(redis),
            "TICKETCTL_PORTS__SEARCH": str(search),
            "TICKETCTL_PORTS__APPS": str(apps),
            **{f"TICKETCTL_IMAGES__{key.upper()}": getattr(images, key) for key in ("mysql", "redis", "apps")},
            "TICKETCTL_IMAGES__ELASTICSEARCH": images.elasticsearch,
            "TICKETCTL_IMAGES__OPENSEARCH": images.opensearch,
        }
        return cls(folder, scratch, settings)

    @property
    def project(self) -> str:
        return self.scratch.project

    def ticketctl(self, *args: str, cwd: Path | None = None, timeout: float = 300, **extra: str) -> Run:
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_") or k.startswith("TICKETCTL_TEST_")
        }
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "ticketctl", *args],
            cwd=cwd or self.folder,
            env={**inherited, **self.env, **extra, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def containers(self) -> dict[str, Any]:
        found = self.scratch.client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"})
        return {container.name: container for container in found}

    def container(self, service: str) -> Any:
        return self.scratch.client.containers.get(f"{self.project}-{service}-1")

    def volumes(self) -> list[str]:
        found = self.scratch.client.volumes.list(filters={"label": f"{PROJECT_LABEL}={self.project}"})
        return sorted(volume.name for volume in found)

    def env_file(self) -> dict[str, str]:
        lines = (self.folder / ".env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))

    def set_secret(self, name: str, value: str) -> None:
        """Edit one line of .env, as a user would."""
        path = self.folder / ".env"
        lines = [f"{name}={value}" if line.startswith(f"{name}=") else line for line in path.read_text().splitlines()]
        path.write_text("\n".join(lines) + "\n")
