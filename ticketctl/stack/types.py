"""The leaf types of a stack: what a service's healthcheck, ports, volumes and dependencies are.

Pure data with no behaviour of their own, shared by the stack model (built from
settings) and whatever reads a rendered stack back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecretRef:
    """An environment value that is the secret of this name (from ``.env``)."""

    name: str


EnvValue = str | SecretRef


@dataclass(frozen=True)
class Healthcheck:
    """A container healthcheck; ``test`` is Docker's form (``CMD-SHELL``, script)."""

    test: tuple[str, ...]
    interval: float
    timeout: float
    retries: int
    start_period: float
    # Probe every second during the start period; needs Engine API 1.44 or newer.
    start_interval: float | None = None
    # Proves only that the process is alive (Kubernetes' liveness probe), in the same form as
    # ``test``. A failing liveness probe restarts the container, so it must not fail on what a
    # restart cannot fix: a rotated password, exhausted connections, a red index, a replay.
    liveness: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PortBinding:
    host_ip: str
    host_port: int
    container_port: int
    protocol: str = "tcp"
    setting: str = ""  # the setting that chooses host_port, named in error messages


@dataclass(frozen=True)
class VolumeMount:
    """A named volume of the stack mounted into a container."""

    volume: str
    target: str


@dataclass(frozen=True)
class ConfigFile:
    """A rendered file placed into the container before it starts (Compose ``configs``)."""

    name: str
    source: str  # path relative to the output folder
    target: str
    mode: int = 0o555


@dataclass(frozen=True)
class Dependency:
    service: str
    condition: str  # service_started | service_healthy
