"""The leaf types of a stack: a service's healthcheck, ports, volumes and dependencies.

One family of types for the stack model (built from settings) and for the
Compose file read back (:mod:`ticketctl.compose.file`), so that what is rendered
and what runs can be compared field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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

    @property
    def budget(self) -> float:
        """Seconds after which Docker itself would report the container unhealthy."""
        return self.start_period + self.retries * (self.interval + self.timeout)


@dataclass(frozen=True)
class PortBinding:
    """A published port: ``host_ip:host_port:container_port/protocol``."""

    host_ip: str
    host_port: int
    container_port: int
    protocol: str = "tcp"
    # The setting that chooses host_port, named in error messages; a file read back does not know it.
    setting: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class VolumeMount:
    """A named volume of the stack (not yet prefixed with the project) mounted at ``target``."""

    volume: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ConfigFile:
    """A rendered file placed into the container before it starts (Compose ``configs``)."""

    name: str
    source: str  # path relative to the output folder
    target: str
    mode: int = 0o555


@dataclass(frozen=True)
class Dependency:
    """A service that must be started (or healthy) before this one."""

    service: str
    condition: str  # service_started | service_healthy
