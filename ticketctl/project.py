"""``up``, ``down`` and ``status``: the stack on the Docker Engine, converged and safe.

``up`` renders the files (unless told not to), reads the rendered
``docker-compose.yml`` and ``.env`` back, and converges the Engine to them:

1. take the project's lock (one ``up``/``down`` at a time per endpoint and project);
2. check every host port it needs before anything is created;
3. make sure every image is present (pull only what is missing);
4. compare each service's config hash (effective config + image ID) with its
   container: unchanged → leave it running; changed → recreate that service
   only (named volumes are kept); stopped → start; never started → recreate;
5. create the network and volumes, then the services in dependency order,
   independent ones in parallel threads, waiting for ``service_healthy``
   dependencies;
6. wait for health (per-service and overall deadlines), failing at once when a
   container exits or turns unhealthy; on failure remove what this run
   created (never volumes) unless told to keep it;
7. call ``initialise(settings, secrets, on_event)`` once everything is healthy.

A Ctrl-C stops the workers at their next step and leaves a state the next
``up`` converges from: a container that was created but never started is
recreated, one that exists and matches is kept, nothing is duplicated because
every container has a fixed name.

The core never prints; it reports progress through ``on_event`` (see
:mod:`ticketctl.runtime.events`) and returns plain report objects.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ticketctl.compose.file import ComposeFile, ServiceSpec, dependency_order, load_compose_file, with_dependencies
from ticketctl.config.masking import scrub_known
from ticketctl.config.secrets import Secrets, load_secrets
from ticketctl.config.settings import FIELDS, Settings
from ticketctl.errors import ConfigError, DockerError, LockedError, PortConflictError, UnhealthyError
from ticketctl.events import Event, EventSink, Notice, StepEvent
from ticketctl.runtime.docker import ConflictError, Container, DockerRuntime, PullFailedError, UlimitError
from ticketctl.runtime.events import Action, Phase, ResourceEvent, ServiceEvent
from ticketctl.runtime.lock import project_lock
from ticketctl.runtime.ports import PortConflict, PortNeed, find_conflicts
from ticketctl.runtime.translate import (
    DEPENDS_ON_LABEL,
    MINIMUM_API,
    config_hash,
    container_labels,
    container_name,
    create_body,
    network_labels,
    network_name,
    volume_labels,
    volume_name,
)
from ticketctl.stack.model import Stack, build_stack

Initialiser = Callable[[Settings, Secrets, EventSink, frozenset[str]], Mapping[str, Any]]
"""Runs once the started services are healthy (migrations, search index); gets their names and
returns a summary for the report. Raises a TicketctlError on failure."""

DEFAULT_LOCK_TIMEOUT = 120.0
LOG_LINES = 20
# How often a starting container is inspected for its health: a service is seen healthy at most
# this long after the Engine says so. One inspect is about 1 ms of client CPU on a local Engine.
POLL_SECONDS = 0.1
NO_HEALTHCHECK_BUDGET = 30.0


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ServiceResult:
    """What ``up`` did to one service and where it ended."""

    service: str
    action: Action
    container: str
    container_id: str
    state: str
    health: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "action": self.action,
            "container": self.container,
            "id": self.container_id[:12],
            "state": self.state,
            "health": self.health,
        }


@dataclass(frozen=True)
class UpReport:
    project: str
    endpoint: str
    api_version: str
    services: tuple[ServiceResult, ...]
    orphans: tuple[str, ...] = ()
    removed_orphans: tuple[str, ...] = ()
    pulled_images: tuple[str, ...] = ()
    created_networks: tuple[str, ...] = ()
    created_volumes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    initialised: bool = False
    initialisation: Mapping[str, Any] | None = None
    elapsed: float = 0.0

    @property
    def changed(self) -> bool:
        return any(result.action != "unchanged" for result in self.services) or bool(
            self.created_networks or self.created_volumes or self.removed_orphans
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "endpoint": self.endpoint,
            "api_version": self.api_version,
            "services": [result.as_dict() for result in self.services],
            "orphans": list(self.orphans),
            "removed_orphans": list(self.removed_orphans),
            "pulled_images": list(self.pulled_images),
            "created_networks": list(self.created_networks),
            "created_volumes": list(self.created_volumes),
            "warnings": list(self.warnings),
            "initialised": self.initialised,
            "initialisation": dict(self.initialisation) if self.initialisation is not None else None,
            "elapsed_seconds": round(self.elapsed, 3),
        }


@dataclass(frozen=True)
class DownReport:
    project: str
    removed_containers: tuple[str, ...]
    removed_networks: tuple[str, ...]
    removed_volumes: tuple[str, ...]
    kept_volumes: tuple[str, ...]

    @property
    def list_volumes_command(self) -> str:
        return f"docker volume ls --filter label=com.docker.compose.project={self.project}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "removed_containers": list(self.removed_containers),
            "removed_networks": list(self.removed_networks),
            "removed_volumes": list(self.removed_volumes),
            "kept_volumes": list(self.kept_volumes),
            "list_volumes": self.list_volumes_command,
        }


@dataclass(frozen=True)
class ServiceStatus:
    """One service (or an orphan container) as the Engine sees it now."""

    service: str
    container: str | None
    container_id: str | None
    state: str  # running, exited, created, … or "missing"
    health: str | None
    ports: tuple[str, ...]
    image: str | None
    started_at: datetime | None
    uptime: float | None
    orphan: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "container": self.container,
            "id": self.container_id[:12] if self.container_id else None,
            "state": self.state,
            "health": self.health,
            "ports": list(self.ports),
            "image": self.image,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "uptime_seconds": round(self.uptime) if self.uptime is not None else None,
            "orphan": self.orphan,
        }


class ServiceFailedError(UnhealthyError):
    """A service exited, turned unhealthy or timed out; carries its last logs and health output."""

    def __init__(self, service: str, reason: str, *, logs: Sequence[str] = (), health_output: str = ""):
        last = next((line for line in reversed(logs) if line.strip()), "")
        message = f"{service}: {reason}" + (f"; last log line: {last.strip()[:200]}" if last else "")
        super().__init__(
            message,
            hint="fix the cause shown in its logs and run `ticketctl up` again "
            "(--keep-on-failure keeps the containers for `docker logs`)",
        )
        self.service = service
        self.reason = reason
        self.logs = tuple(logs)
        self.health_output = health_output


# --------------------------------------------------------------------------- public API


def up(
    settings: Settings,
    runtime: DockerRuntime,
    *,
    render: bool = True,
    services: Sequence[str] | None = None,
    force_recreate: bool = False,
    remove_orphans: bool = False,
    wait: bool = True,
    wait_timeout: float | None = None,
    service_timeout: float | None = None,
    keep_on_failure: bool = False,
    initialise: Initialiser | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    environ: Mapping[str, str] | None = None,
    on_event: EventSink | None = None,
) -> UpReport:
    """Bring the project's stack up from the rendered files and converge it; see the module doc."""
    emit = _serialised(on_event)
    started = time.monotonic()
    warnings: list[str] = []
    if render:
        warnings += _render(settings, emit)
    from ticketctl.render.compose import COMPOSE_FILENAME

    compose = load_compose_file(settings.output_dir / COMPOSE_FILENAME, environ)
    if compose.name != settings.project:
        raise ConfigError(
            f"{compose.path}: written for project {compose.name!r}, but the settings say {settings.project!r}",
            hint="run `ticketctl render` (or `ticketctl up` without --no-render) to write it again",
        )
    active = compose.active_services(settings.profiles)
    selected = with_dependencies(compose, active, list(services)) if services else active
    if not selected:
        raise ConfigError("no service to start", hint="check the profiles setting and the services you named")
    for warning in warnings:
        emit(Notice(warning, "warning"))
    for note in _dropped_features(runtime, selected):
        emit(Notice(note, "info"))
    with project_lock(
        runtime.endpoint.url,
        settings.project,
        "up",
        timeout=lock_timeout,
        on_wait=lambda holder: emit(StepEvent("lock", "started", f"waiting for {holder}")),
    ):
        run = _UpRun(
            settings=settings,
            runtime=runtime,
            compose=compose,
            selected=selected,
            active=active,
            emit=emit,
            force_recreate=force_recreate,
            keep_on_failure=keep_on_failure,
            wait=wait,
            wait_timeout=settings.wait_timeout if wait_timeout is None else wait_timeout,
            service_timeout=service_timeout,
        )
        report = run.execute(remove_orphans=remove_orphans)
        initialised = False
        initialisation: Mapping[str, Any] | None = None
        if initialise is not None and wait:
            emit(StepEvent("initialise", "started"))
            secrets = load_secrets(settings.output_dir, _environ(environ))
            initialisation = initialise(settings, secrets, emit, frozenset(s.name for s in selected))
            emit(StepEvent("initialise", "done"))
            initialised = True
        elif initialise is not None:
            emit(StepEvent("initialise", "skipped", "--no-wait: services may not be healthy yet"))
    return UpReport(
        project=settings.project,
        endpoint=runtime.endpoint.describe(),
        api_version=runtime.api_version,
        services=report.services,
        orphans=report.orphans,
        removed_orphans=report.removed_orphans,
        pulled_images=report.pulled_images,
        created_networks=report.created_networks,
        created_volumes=report.created_volumes,
        warnings=tuple(warnings),
        initialised=initialised,
        initialisation=initialisation,
        elapsed=time.monotonic() - started,
    )


def down(
    settings: Settings,
    runtime: DockerRuntime,
    *,
    volumes: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_event: EventSink | None = None,
) -> DownReport:
    """Stop and remove the project's containers and networks; remove its volumes only if asked.

    Confirmation for ``volumes=True`` is the caller's job (the CLI asks or needs ``--yes``).
    """
    emit = _serialised(on_event)
    project = settings.project
    with project_lock(
        runtime.endpoint.url,
        project,
        "down",
        timeout=lock_timeout,
        on_wait=lambda holder: emit(StepEvent("lock", "started", f"waiting for {holder}")),
    ):
        containers = runtime.containers(project, include_oneoff=True)
        for group in _stop_order(containers):
            _parallel([functools.partial(_stop_and_remove, runtime, c, emit) for c in group])
        removed_networks = []
        for network in runtime.networks(project):
            runtime.remove_network(network)
            removed_networks.append(network.name)
            emit(ResourceEvent("network", network.name, "removed"))
        removed_volumes, kept_volumes = [], []
        for volume in runtime.volumes(project):
            if volumes:
                runtime.remove_volume(volume)
                removed_volumes.append(volume.name)
                emit(ResourceEvent("volume", volume.name, "removed"))
            else:
                kept_volumes.append(volume.name)
                emit(ResourceEvent("volume", volume.name, "kept"))
    return DownReport(
        project=project,
        removed_containers=tuple(c.name for c in containers),
        removed_networks=tuple(removed_networks),
        removed_volumes=tuple(removed_volumes),
        kept_volumes=tuple(kept_volumes),
    )


def project_volumes(settings: Settings, runtime: DockerRuntime) -> list[str]:
    """Names of the project's volumes (for a confirmation prompt before ``down --volumes``)."""
    return [volume.name for volume in runtime.volumes(settings.project)]


def status(settings: Settings, runtime: DockerRuntime) -> list[ServiceStatus]:
    """Each active service's container (or ``missing``), then containers of services no longer active."""
    stack = build_stack(settings)
    expected = [service.name for service in stack.active_services]
    containers = runtime.containers(settings.project)
    by_service: dict[str, list[Container]] = {}
    for container in containers:
        by_service.setdefault(container.service or "?", []).append(container)
    now = datetime.now(UTC)
    rows = []
    for name in expected:
        found = by_service.pop(name, [])
        if not found:
            rows.append(ServiceStatus(name, None, None, "missing", None, (), None, None, None))
        rows += [_status_row(name, container, now) for container in found]
    for name, found in sorted(by_service.items()):
        rows += [_status_row(name, container, now, orphan=True) for container in found]
    return rows


# --------------------------------------------------------------------------- inspection (doctor)


@dataclass(frozen=True)
class ServiceInspection:
    """One active service compared with what ``up`` would run now."""

    service: str
    container: Container | None
    expected_hash: str | None  # None when the image is not present locally

    @property
    def outdated(self) -> bool:
        """The container runs an older configuration or image than the rendered file asks for."""
        return (
            self.container is not None
            and self.expected_hash is not None
            and self.container.config_hash != self.expected_hash
        )


@dataclass(frozen=True)
class ProjectInspection:
    """What doctor reports about the project on the Engine; nothing is changed to learn it."""

    services: tuple[ServiceInspection, ...]
    orphans: tuple[Container, ...]
    unused_volumes: tuple[str, ...]
    port_conflicts: tuple[PortConflict, ...]
    compose_file: str


def inspect_project(
    settings: Settings, runtime: DockerRuntime, environ: Mapping[str, str] | None = None
) -> ProjectInspection:
    """Compare the rendered compose file with the Engine's containers, volumes and ports."""
    from ticketctl.render.compose import COMPOSE_FILENAME

    compose = load_compose_file(settings.output_dir / COMPOSE_FILENAME, environ)
    active = compose.active_services(settings.profiles)
    active_names = {service.name for service in active}
    existing = runtime.containers(settings.project)
    services = []
    for service in active:
        name = container_name(settings.project, service.name)
        container = next((c for c in existing if c.name == name), None)
        image_id = runtime.image_id(service.image)
        expected = config_hash(runtime.features.effective(service), image_id) if image_id else None
        services.append(ServiceInspection(service.name, container, expected))
    mounted = {volume_name(settings.project, m.volume) for service in active for m in service.mounts}
    unused = tuple(sorted(v.name for v in runtime.volumes(settings.project) if v.name not in mounted))
    conflicts = find_conflicts(
        port_needs(build_stack(settings), active),
        runtime.published_ports(),
        project=settings.project,
        releasing=set(),
        local=runtime.endpoint.is_local,
    )
    return ProjectInspection(
        services=tuple(services),
        orphans=tuple(c for c in existing if c.service not in active_names),
        unused_volumes=unused,
        port_conflicts=tuple(conflicts),
        compose_file=str(compose.path),
    )


def port_needs(stack: Stack, services: Sequence[ServiceSpec]) -> list[PortNeed]:
    """The host ports these services publish, each with the setting that chooses it."""
    settings_of = {
        (service.name, port.container_port): port.setting for service in stack.services for port in service.ports
    }
    return [
        PortNeed(
            service.name,
            port.host_ip,
            port.host_port,
            port.protocol,
            settings_of.get((service.name, port.container_port), ""),
        )
        for service in services
        for port in service.ports
    ]


# --------------------------------------------------------------------------- helpers


def _serialised(on_event: EventSink | None) -> EventSink:
    """The caller's sink, called from one thread at a time."""
    if on_event is None:
        return lambda event: None
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:
            on_event(event)

    return emit


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    import os

    return os.environ if environ is None else environ


def _dropped_features(runtime: DockerRuntime, services: Sequence[ServiceSpec]) -> list[str]:
    """One warning per file field that this Engine is too old for, naming the services."""
    by_field: dict[str, list[str]] = {}
    for service in services:
        for name in runtime.features.dropped(service):
            by_field.setdefault(name, []).append(service.name)
    return [
        f"{name} is ignored for {', '.join(names)}: it needs Engine API {MINIMUM_API[name]}, "
        f"this Engine has {runtime.api_version}"
        for name, names in by_field.items()
    ]


def _render(settings: Settings, emit: EventSink) -> list[str]:
    from ticketctl.render.compose import render

    emit(StepEvent("render", "started"))
    result = render(settings)
    changed = [str(f.path.name) for f in result.files if f.status != "unchanged"]
    emit(StepEvent("render", "done", f"{len(changed)} file(s) changed" if changed else "files unchanged"))
    return list(result.warnings)


def _status_row(service: str, container: Container, now: datetime, *, orphan: bool = False) -> ServiceStatus:
    started = container.started_at if container.state == "running" else None
    return ServiceStatus(
        service=service,
        container=container.name,
        container_id=container.id,
        state=container.state,
        health=container.health,
        ports=tuple(str(port) for port in container.ports),
        image=container.image,
        started_at=started,
        uptime=(now - started).total_seconds() if started else None,
        orphan=orphan,
    )


def _stop_order(containers: list[Container]) -> list[list[Container]]:
    """Dependents before their dependencies (reverse start order), from the depends_on labels."""
    by_service = {c.service or c.name: c for c in containers}
    remaining = {
        name: {part.split(":", 1)[0] for part in (c.labels.get(DEPENDS_ON_LABEL) or "").split(",") if part}
        for name, c in by_service.items()
    }
    groups: list[list[Container]] = []
    while remaining:
        needed = set().union(*remaining.values()) & set(remaining)
        ready = sorted(name for name in remaining if name not in needed) or sorted(remaining)
        groups.append([by_service[name] for name in ready])
        for name in ready:
            del remaining[name]
    extras = [c for c in containers if c not in by_service.values()]
    return groups + ([extras] if extras else [])


def _raced(name: str) -> LockedError:
    """Someone created ``name`` between our look and our create: another machine on the same Engine."""
    return LockedError(
        f"{name} was created by someone else at the same moment (another ticketctl or docker compose on this Engine)",
        hint="run `ticketctl up` again once the other run has finished; it converges",
    )


def _stop_and_remove(runtime: DockerRuntime, container: Container, emit: EventSink) -> None:
    if container.state in ("running", "restarting", "paused"):
        runtime.stop(container)
    runtime.remove(container)
    emit(ResourceEvent("container", container.name, "removed"))


def _parallel(calls: Sequence[Callable[[], None]]) -> None:
    """Run ``calls`` in threads; re-raise the first exception after all have ended."""
    errors: list[BaseException] = []

    def guarded(call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)

    threads = [_Worker(guarded, call) for call in calls]
    for thread in threads:
        thread.start()
    _wait_for(threads)
    if errors:
        raise errors[0]


class _Worker(threading.Thread):
    """A daemon thread that says when it has ended through an Event.

    ``Thread.join`` cannot be trusted after Ctrl-C: on Python 3.11, a
    KeyboardInterrupt inside ``join`` marks the still-running thread as
    stopped (bpo-45274), and every later ``join`` returns at once, so the
    process would exit while a worker is half-way through a Docker call.
    """

    def __init__(self, target: Callable[..., None], *args: Any, name: str | None = None):
        super().__init__(name=name, daemon=True)
        self._work = target
        self._work_args = args
        self.ended = threading.Event()

    def run(self) -> None:
        try:
            self._work(*self._work_args)
        finally:
            self.ended.set()


def _wait_for(workers: Sequence[_Worker]) -> None:
    for worker in workers:
        while not worker.ended.wait(0.2):
            pass


# --------------------------------------------------------------------------- the converge run


@dataclass
class _Plan:
    """What to do with one service, decided before anything changes."""

    service: ServiceSpec
    action: Action
    config_hash: str
    image_id: str
    existing: Container | None
    extras: list[Container] = field(default_factory=list)
    needs_health: bool = False
    started: threading.Event = field(default_factory=threading.Event)
    healthy: threading.Event = field(default_factory=threading.Event)
    container: Container | None = None


@dataclass(frozen=True)
class _RunReport:
    services: tuple[ServiceResult, ...]
    orphans: tuple[str, ...]
    removed_orphans: tuple[str, ...]
    pulled_images: tuple[str, ...]
    created_networks: tuple[str, ...]
    created_volumes: tuple[str, ...]


class _Cancelled(Exception):
    """A worker stopped because another failed or the user pressed Ctrl-C."""


class _UpRun:
    """One converge run: plan, create, start, wait, clean up on failure."""

    def __init__(
        self,
        *,
        settings: Settings,
        runtime: DockerRuntime,
        compose: ComposeFile,
        selected: tuple[ServiceSpec, ...],
        active: tuple[ServiceSpec, ...],
        emit: EventSink,
        force_recreate: bool,
        keep_on_failure: bool,
        wait: bool,
        wait_timeout: float,
        service_timeout: float | None,
    ):
        self.settings = settings
        self.runtime = runtime
        self.compose = compose
        self.selected = selected
        self.active_names = {service.name for service in active}
        self.emit = emit
        self.force_recreate = force_recreate
        self.keep_on_failure = keep_on_failure
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.service_timeout = service_timeout
        self.project = settings.project
        self.stack = build_stack(settings)
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.failure_lock = threading.Lock()
        self.created: list[Container] = []
        self.created_networks: list[str] = []
        self.created_volumes: list[str] = []
        self.deadline = 0.0

    # ------------------------------------------------------------------ the steps

    def execute(self, *, remove_orphans: bool) -> _RunReport:
        existing = self.runtime.containers(self.project)
        orphans = [c for c in existing if c.service not in self.active_names]
        for orphan in orphans:
            self.emit(ResourceEvent("container", orphan.name, "orphan"))
        self._check_ports(releasing=orphans if remove_orphans else [])
        image_ids, pulled = self._ensure_images()
        plans = self._plan(existing, image_ids)
        removed_orphans = []
        if remove_orphans:
            for orphan in orphans:
                _stop_and_remove(self.runtime, orphan, self.emit)
                removed_orphans.append(orphan.name)
        self._ensure_networks_and_volumes()
        self.deadline = time.monotonic() + self.wait_timeout
        self._run_workers(plans)
        results = tuple(self._result(plan) for plan in plans.values())
        return _RunReport(
            services=results,
            orphans=tuple(o.name for o in orphans if o.name not in removed_orphans),
            removed_orphans=tuple(removed_orphans),
            pulled_images=tuple(pulled),
            created_networks=tuple(self.created_networks),
            created_volumes=tuple(self.created_volumes),
        )

    def _check_ports(self, *, releasing: list[Container]) -> None:
        self.emit(StepEvent("ports", "started"))
        needs = port_needs(self.stack, self.selected)
        conflicts = find_conflicts(
            needs,
            self.runtime.published_ports(),
            project=self.project,
            releasing={c.name for c in releasing},
            local=self.runtime.endpoint.is_local,
        )
        if conflicts:
            self.emit(StepEvent("ports", "failed"))
            message = "; ".join(conflict.describe() for conflict in conflicts)
            raise PortConflictError(message, hint=conflicts[0].fix)
        self.emit(StepEvent("ports", "done", f"{len(needs)} port(s) checked"))

    def _ensure_images(self) -> tuple[dict[str, str], list[str]]:
        image_ids: dict[str, str] = {}
        pulled: list[str] = []
        for service in self.selected:
            if service.image in image_ids:
                continue
            found = self.runtime.image_id(service.image)
            if found is None:
                self.emit(ServiceEvent(service.name, "pulling", detail=service.image))
                found = self._pull(service)
                pulled.append(service.image)
            image_ids[service.image] = found
        return image_ids, pulled

    def _pull(self, service: ServiceSpec) -> str:
        setting = dict(service.labels).get("io.ticketctl.image-setting") or self._stack_setting(service.name)
        try:
            return self.runtime.pull(service.image, self.emit)
        except PullFailedError as error:
            env = FIELDS[setting].env_var if setting in FIELDS else None
            where = f" ({setting})" if setting else ""
            how = f"set {setting} (or {env}) to it" if setting and env else "use that image in the file"
            raise DockerError(
                f"cannot pull {service.image}{where} for {service.name}: {error.reason}",
                hint=f"build or load the image locally (`docker build -t NAME .` or `docker load -i FILE`) and {how}",
            ) from None

    def _stack_setting(self, service: str) -> str:
        try:
            return self.stack.service(service).image_setting
        except KeyError:
            return ""

    def _plan(self, existing: list[Container], image_ids: Mapping[str, str]) -> dict[str, _Plan]:
        healthy_needed = {
            dependency.service
            for service in self.selected
            for dependency in service.depends_on
            if dependency.condition == "service_healthy"
        }
        plans: dict[str, _Plan] = {}
        for service in self.selected:
            effective = self.runtime.features.effective(service)
            image_id = image_ids[service.image]
            digest = config_hash(effective, image_id)
            name = container_name(self.project, service.name)
            mine = [c for c in existing if c.service == service.name]
            current = next((c for c in mine if c.name == name), None)
            plans[service.name] = _Plan(
                service=effective,
                action=self._decide(current, digest),
                config_hash=digest,
                image_id=image_id,
                existing=current,
                extras=[c for c in mine if c is not current],
                needs_health=self.wait or service.name in healthy_needed,
            )
        return plans

    def _decide(self, current: Container | None, digest: str) -> Action:
        if current is None:
            return "created"
        # A container that never started may lack its config files (interrupted run): recreate it.
        if (
            self.force_recreate
            or current.config_hash != digest
            or current.state in ("created", "dead", "removing", "paused")
        ):
            return "recreated"
        if current.state == "exited":
            return "started"
        return "unchanged"

    def _ensure_networks_and_volumes(self) -> None:
        networks = sorted({n for service in self.selected for n in (service.networks or ("default",))})
        for network in networks:
            name = network_name(self.project, network)
            if self.runtime.network(name) is None:
                try:
                    self.runtime.create_network(name, network_labels(self.compose, network))
                except ConflictError:
                    raise _raced(name) from None
                self.created_networks.append(name)
                self.emit(ResourceEvent("network", name, "created"))
        volumes = sorted({mount.volume for service in self.selected for mount in service.mounts})
        for volume in volumes:
            name = volume_name(self.project, volume)
            if self.runtime.volume(name) is None:
                self.runtime.create_volume(name, volume_labels(self.compose, volume))
                self.created_volumes.append(name)
                self.emit(ResourceEvent("volume", name, "created"))

    # ------------------------------------------------------------------ workers

    def _run_workers(self, plans: dict[str, _Plan]) -> None:
        order = [name for group in dependency_order(list(self.selected)) for name in group]
        started: list[_Worker] = []
        try:
            for name in order:
                worker = _Worker(self._worker, plans[name], plans, name=f"up-{name}")
                worker.start()
                started.append(worker)
            _wait_for(started)
        except KeyboardInterrupt:
            self.stop.set()
            _wait_for(started)  # each stops at its next step; nothing runs on after the process says it stopped
            raise
        if self.failure is not None:
            self._clean_up()
            raise self.failure

    def _worker(self, plan: _Plan, plans: dict[str, _Plan]) -> None:
        began = time.monotonic()
        name = plan.service.name

        def event(phase: Phase, health: str | None = None, detail: str = "") -> None:
            self.emit(ServiceEvent(name, phase, plan.action, health, detail, time.monotonic() - began))

        try:
            event("queued")
            self._wait_for_dependencies(plan, plans)
            container = self._converge(plan, event)
            plan.container = container
            plan.started.set()
            if plan.needs_health:
                container = plan.container = self._wait_healthy(plan, container, began, event)
            event(
                "healthy" if container.has_healthcheck and container.health == "healthy" else "ready", container.health
            )
            plan.healthy.set()
        except _Cancelled:
            return
        except ServiceFailedError as error:
            self._record_failure(error)
            event("failed", detail=error.reason)
        except BaseException as error:  # a Docker error in this worker ends the whole run
            self._record_failure(error)
            event("failed", detail=str(error))

    def _record_failure(self, error: BaseException) -> None:
        with self.failure_lock:
            if self.failure is None:
                self.failure = error
        self.stop.set()

    def _checkpoint(self) -> None:
        if self.stop.is_set():
            raise _Cancelled()

    def _wait_for_dependencies(self, plan: _Plan, plans: dict[str, _Plan]) -> None:
        for dependency in plan.service.depends_on:
            other = plans.get(dependency.service)
            if other is None:  # not part of this run (only some services were named)
                continue
            flag = other.healthy if dependency.condition != "service_started" else other.started
            while not flag.wait(0.2):
                self._checkpoint()
        self._checkpoint()

    def _converge(self, plan: _Plan, event: Callable[..., None]) -> Container:
        for extra in plan.extras:
            self._checkpoint()
            _stop_and_remove(self.runtime, extra, self.emit)
        current = plan.existing
        if plan.action == "unchanged" and current is not None:
            return current
        if plan.action == "started" and current is not None:
            self._checkpoint()
            event("starting")
            self.runtime.start(current)
            return current.reload()
        self._checkpoint()
        if plan.action == "recreated" and current is not None:
            event("recreating")
            if current.state in ("running", "restarting", "paused"):
                self.runtime.stop(current, plan.service.stop_grace_period)
            self.runtime.remove(current)
        else:
            event("creating")
        container = self._create(plan)
        self._checkpoint()
        event("starting")
        try:
            self.runtime.start(container)
        except UlimitError as error:
            raise self._ulimit_error(plan.service, error) from None
        return container.reload()

    def _ulimit_error(self, service: ServiceSpec, error: UlimitError) -> DockerError:
        limits = ", ".join(f"{name}={soft}:{hard}" for name, soft, hard in service.ulimits)
        setting = "search.nofile" if service.name == self.stack.search_engine else None
        change = f"lower {setting} ({FIELDS[setting].env_var}=20000)" if setting else "lower the ulimit"
        return DockerError(
            f"{service.name}: the Docker Engine cannot set ulimit {limits}: its own limit is lower",
            hint=f"{change}, or raise dockerd's open-files limit (LimitNOFILE) and restart it",
        )

    def _create(self, plan: _Plan) -> Container:
        service = plan.service
        labels = container_labels(self.compose, service, plan.config_hash, plan.image_id)
        body = create_body(service, project=self.project, labels=labels, features=self.runtime.features)
        name = container_name(self.project, service.name)
        try:
            container = self.runtime.create_container(name, body)
        except ConflictError:
            raise _raced(name) from None
        with self.failure_lock:
            self.created.append(container)
        for config in service.configs:
            self.runtime.copy_file(container, config.target, config.content, config.mode)
        return container

    def _wait_healthy(self, plan: _Plan, container: Container, began: float, event: Callable[..., None]) -> Container:
        service = plan.service
        budget = self.service_timeout
        if budget is None:
            budget = service.healthcheck.budget + 10 if service.healthcheck else NO_HEALTHCHECK_BUDGET
        deadline = min(time.monotonic() + budget, self.deadline)
        restarts = container.restart_count
        last_health: str | None = "?"
        while True:
            self._checkpoint()
            current = container.reload()
            if current.state in ("exited", "dead"):
                raise self._failed(plan.service.name, current, f"exited with code {current.exit_code} while starting")
            if current.state == "restarting" or current.restart_count > restarts:
                code = f" with code {current.exit_code}" if current.state == "restarting" else ""
                raise self._failed(plan.service.name, current, f"exited{code} while starting and is being restarted")
            if current.has_healthcheck and current.health == "unhealthy":
                raise self._failed(plan.service.name, current, "turned unhealthy")
            if current.state == "running" and (current.health == "healthy" or not current.has_healthcheck):
                return current
            if current.health != last_health:
                event("running", current.health)
                last_health = current.health
            now = time.monotonic()
            if now >= deadline:
                which = "--wait-timeout" if deadline == self.deadline else "its health budget (--service-timeout)"
                raise self._failed(
                    plan.service.name,
                    current,
                    f"not healthy after {now - began:.0f}s ({which}; health: {current.health or current.state})",
                )
            self.stop.wait(min(POLL_SECONDS, max(0.0, deadline - now)))

    def _failed(self, service: str, container: Container, reason: str) -> ServiceFailedError:
        try:
            logs = [scrub_known(line) for line in container.last_log_lines(LOG_LINES)]
        except DockerError:
            logs = []
        health_output = scrub_known(container.health_output)
        return ServiceFailedError(service, reason, logs=logs, health_output=health_output)

    def _clean_up(self) -> None:
        """Remove what this run created (containers, networks), never volumes."""
        if self.keep_on_failure:
            self.emit(Notice("--keep-on-failure: the containers of this run are left for inspection", "warning"))
            return
        for container in self.created:
            try:
                self.runtime.remove(container)
            except DockerError as error:
                self.emit(Notice(f"could not remove {container.name}: {error}", "warning"))
                continue
            self.emit(ResourceEvent("container", container.name, "removed"))
            self.emit(ServiceEvent(container.service or container.name, "removed"))
        if self.created_volumes:
            names = " ".join(self.created_volumes)
            self.emit(
                Notice(
                    f"volumes created by this run are kept ({names}); if a service never initialised its data, "
                    f"delete them with `docker volume rm {names}` before the next up",
                    "warning",
                )
            )
        for name in self.created_networks:
            try:
                network = self.runtime.network(name)
                if network is None or network.containers:
                    continue
                self.runtime.remove_network(network)
            except DockerError as error:
                self.emit(Notice(f"could not remove {name}: {error}", "warning"))
                continue
            self.emit(ResourceEvent("network", name, "removed"))

    def _result(self, plan: _Plan) -> ServiceResult:
        container = plan.container
        if container is None:
            raise DockerError(f"{plan.service.name}: no container after up", hint="run `ticketctl up` again")
        return ServiceResult(
            service=plan.service.name,
            action=plan.action,
            container=container.name,
            container_id=container.id,
            state=container.state,
            health=container.health,
        )
