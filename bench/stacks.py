"""The three stacks of the benchmark: one per tool, each its own Compose project on its own ports.

Every stack's files come from ``ticketctl render`` (same settings but the
project name and the ports). ticketctl runs on them as they are; the Compose
peers run on the closest file they accept, derived mechanically
(:func:`derive_for_compose_v1`, :func:`derive_for_compose_v2`), and the
derivation is written into RESULTS.md.

Readiness comes from the Engine itself: a :class:`HealthWatch` follows the
project's container events (``start`` and ``health_status: healthy``, with
the Engine's own timestamps), so a service's own ready time is
``healthy - start`` whichever tool started it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import yaml

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
SERVICES = ("mysql", "redis", "opensearch")


@dataclass(frozen=True)
class Ports:
    mysql: int
    redis: int
    search: int
    apps: int

    @classmethod
    def block(cls, base: int) -> Ports:
        """mysql base+6, redis base+7, search base+9, apps base+10..+18: one block of 100 per stack."""
        return cls(mysql=base + 6, redis=base + 7, search=base + 9, apps=base + 10)

    def host_ports(self) -> set[int]:
        """Every host port the stack publishes (the nine apps take apps..apps+8)."""
        return {self.mysql, self.redis, self.search, *range(self.apps, self.apps + 9)}


@dataclass(frozen=True)
class Stack:
    tool: str  # ticketctl, compose-v1, compose-v2
    project: str
    folder: Path
    ports: Ports
    compose_file: str = "docker-compose.yml"  # the file the tool runs on, relative to folder


def env_value(folder: Path, name: str) -> str:
    """A value of a stack's ``.env``."""
    for line in (folder / ".env").read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise KeyError(f"{name} is not in {folder / '.env'}")


def settings_yaml(project: str, ports: Ports, images: dict[str, str]) -> str:
    """ticketctl.yaml of a bench stack: local images, OpenSearch (the complete local engine), nofile 20000."""
    document = {
        "project": project,
        "ports": {"mysql": ports.mysql, "redis": ports.redis, "search": ports.search, "apps": ports.apps},
        "images": dict(images),
        # The Engine here allows at most 20000 open files per container (dockerd's own limit).
        "search": {"engine": "opensearch", "heap": "512m", "nofile": 20000},
    }
    return yaml.safe_dump(document, sort_keys=False)


# --------------------------------------------------------------------------- derived compose files


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _drop_start_interval(document: dict[str, Any], changes: list[str]) -> None:
    dropped = []
    for name, service in document.get("services", {}).items():
        healthcheck = service.get("healthcheck") or {}
        if "start_interval" in healthcheck:
            del healthcheck["start_interval"]
            dropped.append(name)
    if dropped:
        changes.append(f"removed `healthcheck.start_interval` of {', '.join(dropped)}")


def derive_for_compose_v2(source: Path, target: Path) -> list[str]:
    """Compose v2 accepts the spec file but refuses ``start_interval`` on an Engine older than 25 (API 1.44).

    ticketctl leaves it out on such an Engine by itself, so the derived file
    asks the Engine for exactly what ticketctl asks.
    """
    document = _load(source)
    changes: list[str] = []
    _drop_start_interval(document, changes)
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return changes


def derive_for_compose_v1(source: Path, target: Path) -> list[str]:
    """docker-compose 1.29 rejects ``name`` and ``start_interval`` and ignores ``configs`` outside swarm.

    - ``name``: dropped; the project name is given with ``-p`` instead.
    - ``start_interval``: dropped, as for Compose v2.
    - ``configs`` with ``file:``: 1.29 would silently leave out MySQL's init script
      (no databases, no users: the healthcheck never passes), so each becomes the
      read-only bind mount of the same file at the same target, which is what
      Compose v2 does with a file config.
    """
    document = _load(source)
    changes: list[str] = []
    if "name" in document:
        changes.append(f"removed top-level `name: {document.pop('name')}` (given as `-p` instead)")
    _drop_start_interval(document, changes)
    configs = document.pop("configs", {}) or {}
    for name, service in document.get("services", {}).items():
        for config in service.pop("configs", []) or []:
            source_name = config["source"] if isinstance(config, dict) else config
            target_path = config.get("target", f"/{source_name}") if isinstance(config, dict) else f"/{source_name}"
            file = configs[source_name]["file"]
            service.setdefault("volumes", []).append(
                {"type": "bind", "source": file, "target": target_path, "read_only": True}
            )
            changes.append(
                f"`configs: [{source_name}]` of {name} → read-only bind mount `{file}:{target_path}` "
                "(1.29 ignores configs outside swarm)"
            )
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return changes


# --------------------------------------------------------------------------- Engine helpers


def client() -> docker.DockerClient:
    return docker.from_env(timeout=300)


def port_holders(engine: docker.DockerClient, ports: set[int], own_projects: set[str]) -> dict[int, str]:
    """Host port → the container (of another project) that publishes it: what would make a stack's ``up`` fail.

    A stack another run left behind (a killed bench, or containers the Engine
    restarted because of ``restart: unless-stopped``) keeps its ports, and a
    peer then fails after minutes with "port is already allocated".
    """
    held: dict[int, str] = {}
    for container in engine.containers.list():
        if container.labels.get(PROJECT_LABEL) in own_projects:
            continue
        for bindings in (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).values():
            for binding in bindings or []:
                port = int(binding.get("HostPort") or 0)
                if port in ports:
                    held[port] = container.name
    return held


def remove_project(engine: docker.DockerClient, project: str) -> None:
    """Containers (with anonymous volumes), networks and named volumes carrying the Compose project label."""
    label = {"label": f"{PROJECT_LABEL}={project}"}
    for container in engine.containers.list(all=True, filters=label):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for network in engine.networks.list(filters=label):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
    for volume in engine.volumes.list(filters=label):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)


def project_health(engine: docker.DockerClient, project: str) -> dict[str, str]:
    """Service → health (or state, when the container has no healthcheck or does not run)."""
    found: dict[str, str] = {}
    for container in engine.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
        state = container.attrs.get("State", {})
        health = (state.get("Health") or {}).get("Status")
        found[container.labels.get(SERVICE_LABEL, container.name)] = health or state.get("Status", "?")
    return found


def project_container(engine: docker.DockerClient, project: str, service: str) -> Any:
    filters = {"label": [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"]}
    containers = engine.containers.list(all=True, filters=filters)
    if len(containers) != 1:
        raise RuntimeError(f"{project}: expected one {service} container, found {len(containers)}")
    return containers[0]


def wait_healthy(engine: docker.DockerClient, project: str, services: tuple[str, ...], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        health = project_health(engine, project)
        if all(health.get(service) == "healthy" for service in services):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{project}: not healthy after {timeout:.0f} s: {health}")
        time.sleep(0.5)


@dataclass
class HealthWatch:
    """Follows one project's container events; records when each service started and turned healthy.

    Times are the Engine's (``timeNano``); ``arrived`` is this process's
    ``time.time()`` when the healthy event reached it (what a waiter sees).
    """

    engine: docker.DockerClient
    project: str
    created: dict[str, float] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    healthy: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._since = time.time()
        self._changed = threading.Condition()
        self._stream = self.engine.api.events(
            decode=True, filters={"type": "container", "label": f"{PROJECT_LABEL}={self.project}"}
        )
        self._thread = threading.Thread(target=self._follow, name=f"events-{self.project}", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        with contextlib.suppress(Exception):  # the stream ends with an error when closed
            for event in self._stream:
                at = int(event.get("timeNano", 0)) / 1e9
                if at < self._since - 0.05:
                    continue
                service = (event.get("Actor", {}).get("Attributes", {}) or {}).get(SERVICE_LABEL)
                status = event.get("status") or event.get("Action") or ""
                if not service:
                    continue
                with self._changed:
                    if status == "create":
                        self.created.setdefault(service, at)
                    elif status == "start":
                        self.started.setdefault(service, at)
                    elif status.strip() == "health_status: healthy":
                        self.healthy.setdefault(service, at)
                        self.arrived.setdefault(service, time.time())
                    self._changed.notify_all()

    def wait(self, services: tuple[str, ...], timeout: float) -> float:
        """Block until every service turned healthy; return the ``time.time()`` the last event arrived."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(service in self.arrived for service in services):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"{self.project}: no healthy event for {services} within {timeout:.0f} s")
                self._changed.wait(remaining)
            return max(self.arrived[service] for service in services)

    def readiness(self, services: tuple[str, ...], started_at: float, wall: float) -> dict[str, float]:
        """Where a run's time went, from the Engine's events, for the slowest service S.

        ``ready``: S's own ready time (healthy - start). ``overhead`` = wall - ready,
        split into ``before_create`` (the tool's own work until it asked for S's
        container), ``create_to_start`` (the Engine creating and starting it) and
        ``notice`` (from S's healthy event until the tool returned).
        """
        with self._changed:
            missing = [s for s in services if not (s in self.created and s in self.started and s in self.healthy)]
            if missing:
                raise RuntimeError(f"{self.project}: no create/start/healthy events for {missing}")
            own = {service: self.healthy[service] - self.started[service] for service in services}
            slowest = max(own, key=lambda service: own[service])
            return {
                **{f"ready.{service}": seconds for service, seconds in own.items()},
                "ready": own[slowest],
                "overhead": wall - own[slowest],
                "before_create": self.created[slowest] - started_at,
                "create_to_start": self.started[slowest] - self.created[slowest],
                "notice": started_at + wall - self.healthy[slowest],
            }

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()
        self._thread.join(timeout=5)
