"""``up``, ``down`` and ``status``: the public verbs of a stack on the Docker Engine, and their reports.

``up`` renders the files (unless told not to), reads the rendered
``docker-compose.yml`` and ``.env`` back, takes the project's lock (one
``up``/``down`` at a time per endpoint and project), converges the Engine to the
file (:mod:`ticketctl.runtime.converge`) and, once everything is healthy, calls
``initialise`` (migrations, the search index). The core never prints: progress
goes to ``on_event`` (:mod:`ticketctl.events`), results come back as reports.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from ticketctl.compose.file import ComposeFile, ServiceSpec, load_compose_file, with_dependencies
from ticketctl.config.secrets import Secrets, load_secrets
from ticketctl.config.settings import Settings
from ticketctl.errors import ConfigError
from ticketctl.events import EventSink, Notice, StepEvent, serialised
from ticketctl.parallel import fan_out
from ticketctl.runtime.converge import (
    ConvergeOptions,
    ConvergePlan,
    ConvergeResult,
    ConvergeRun,
    ServicePlan,
    ServiceResult,
    plan_converge,
    stop_and_remove,
)
from ticketctl.runtime.data_secrets import LoginProbe
from ticketctl.runtime.docker import Container, DockerRuntime, Volume
from ticketctl.runtime.events import Phase, ResourceEvent, ServiceEvent
from ticketctl.runtime.health import NotHealthy, failed, health_budget, wait_healthy
from ticketctl.runtime.lock import project_lock
from ticketctl.runtime.ports import PortConflict
from ticketctl.runtime.translate import (
    DEPENDS_ON_LABEL,
    MINIMUM_API,
    select_containers,
    volume_name,
    writes_start_interval,
)
from ticketctl.stack.model import build_stack

if TYPE_CHECKING:
    from ticketctl.render.compose import RenderPlan, RenderPreview

Initialiser = Callable[[Settings, Secrets, EventSink, frozenset[str]], Mapping[str, Any]]
"""Runs once the started services are healthy (migrations, search index); gets their names and
returns a summary for the report. Raises a TicketctlError on failure."""

DEFAULT_LOCK_TIMEOUT = 120.0


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True, kw_only=True)
class UpReport(ConvergeResult):
    """What ``up`` did: the converge run's result, plus where, what it warned about, and the initialisation."""

    project: str
    endpoint: str
    api_version: str
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
    # The service's profiles when none of them is enabled now: a container started with --profile earlier.
    inactive_profiles: tuple[str, ...] = ()

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
            "inactive_profiles": list(self.inactive_profiles),
        }


# --------------------------------------------------------------------------- public API


class UpChoice(TypedDict, total=False):
    """The options ``up`` and ``preview_up`` share: render first (default: yes), only these services and what they
    need (default: all of the active profiles), recreate even unchanged containers, remove orphans (default: no)."""

    render: bool
    services: Sequence[str] | None
    force_recreate: bool
    remove_orphans: bool


def up(
    settings: Settings,
    runtime: DockerRuntime,
    *,
    wait: bool = True,
    wait_timeout: float | None = None,
    service_timeout: float | None = None,
    keep_on_failure: bool = False,
    initialise: Initialiser | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    environ: Mapping[str, str] | None = None,
    on_event: EventSink | None = None,
    mysql_login: LoginProbe,
    **choice: Unpack[UpChoice],
) -> UpReport:
    """Bring the project's stack up from the rendered files and converge it; see the module doc.

    Under the project's lock the render is planned, then written only once the checks before any change passed
    (the data volumes know the secrets, the ports are free): a refused ``up`` leaves the files of what runs as
    they were, and a second ``up`` that waited for the lock plans from what the first one wrote.
    """
    emit = serialised(on_event)
    started = time.monotonic()
    env = _environ(environ)
    with _locked(runtime, settings.project, "up", lock_timeout, emit):
        plan, compose, active, selected = _what_runs(settings, runtime, choice, environ, emit)
        secrets = plan.secrets(env) if plan is not None else load_secrets(settings.output_dir, env)
        warnings: list[str] = list(plan.warnings) if plan is not None else []
        for warning in warnings:
            emit(Notice(warning, "warning"))
        for note in _dropped_features(runtime, selected):
            emit(Notice(note, "info"))

        def write_rendered_files() -> None:
            """Called once the checks passed, before the first change: the render is written only now."""
            if plan is not None:
                warnings.extend(_write_render(plan, emit))

        timeout = settings.wait_timeout if wait_timeout is None else wait_timeout
        options = ConvergeOptions(choice.get("force_recreate", False), keep_on_failure, wait, timeout, service_timeout)
        run = ConvergeRun(
            settings,
            runtime,
            compose,
            selected,
            active,
            emit,
            options,
            secrets=secrets,
            login=mysql_login,
            generated=tuple(name for name in (plan.generated_secrets if plan else ()) if not env.get(name)),
            before_changes=write_rendered_files,
        )
        converged = run.execute(remove_orphans=choice.get("remove_orphans", False))
        initialised = False
        initialisation: Mapping[str, Any] | None = None
        if initialise is not None and wait:
            emit(StepEvent("initialise", "started"))
            initialisation = initialise(settings, secrets, emit, frozenset(s.name for s in selected))
            emit(StepEvent("initialise", "done"))
            initialised = True
        elif initialise is not None:
            emit(StepEvent("initialise", "skipped", "--no-wait: services may not be healthy yet"))
    return UpReport(
        **{item.name: getattr(converged, item.name) for item in fields(converged)},
        project=settings.project,
        endpoint=runtime.endpoint.describe(),
        api_version=runtime.api_version,
        warnings=tuple(warnings),
        initialised=initialised,
        initialisation=initialisation,
        elapsed=time.monotonic() - started,
    )


@dataclass(frozen=True)
class UpPreview:
    """What ``up`` would do to the files and the Engine, read without changing either (``ticketctl plan``)."""

    project: str
    endpoint: str
    compose_file: str
    render: RenderPreview | None  # None with --no-render
    converge: ConvergePlan
    notes: tuple[str, ...] = ()
    started: frozenset[str] = frozenset()  # the services up would run (and so initialise)

    @property
    def changed(self) -> bool:
        return self.converge.changed or (self.render is not None and self.render.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "endpoint": self.endpoint,
            "compose_file": self.compose_file,
            "render": self.render.as_dict() if self.render is not None else None,
            **self.converge.as_dict(),
            "notes": list(self.notes),
        }


def preview_up(
    settings: Settings, runtime: DockerRuntime, *, environ: Mapping[str, str] | None = None, **choice: Unpack[UpChoice]
) -> UpPreview:
    """What :func:`up` with the same arguments would do now: the files it would write and the converge plan.

    The files are rendered in memory and read back from there, so the plan is
    made from what ``up`` would run, and nothing is written or sent but reads.
    """
    from ticketctl.render.compose import preview

    files, compose, _, selected = _what_runs(settings, runtime, choice, environ, lambda event: None)
    rendered = preview(files) if files is not None else None
    recreate, orphans = choice.get("force_recreate", False), choice.get("remove_orphans", False)
    plan = plan_converge(settings, runtime, compose, selected, force_recreate=recreate, remove_orphans=orphans)
    return UpPreview(
        project=settings.project,
        endpoint=runtime.endpoint.describe(),
        compose_file=str(compose.path),
        render=rendered,
        converge=plan,
        notes=tuple(_dropped_features(runtime, selected)),
        started=frozenset(service.name for service in selected),
    )


def down(
    settings: Settings,
    runtime: DockerRuntime,
    *,
    volumes: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_event: EventSink | None = None,
) -> DownReport:
    """Stop and remove the project's containers and networks; remove its volumes only if asked: the named ones
    and, as Compose's ``down -v`` does, the anonymous ones its containers mounted (an image's ``VOLUME`` that the
    stack does not name).

    Confirmation for ``volumes=True`` is the caller's job (the CLI asks or needs ``--yes``).
    """
    emit = serialised(on_event)
    project = settings.project
    with _locked(runtime, project, "down", lock_timeout, emit):
        containers = runtime.containers(project, include_oneoff=True)
        removable = _removable_volumes(runtime, project, containers)
        for group in _stop_order(containers):
            fan_out(lambda container: stop_and_remove(runtime, container, emit), group, name="down")
        runtime.remove_helpers(project)  # a killed restore's helper would keep a volume in use
        removed_networks = []
        for network in runtime.networks(project):
            runtime.remove_network(network)
            removed_networks.append(network.name)
            emit(ResourceEvent("network", network.name, "removed"))
        removed_volumes, kept_volumes = [], []
        for volume in removable if volumes else runtime.volumes(project):
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


@dataclass(frozen=True)
class RestartReport:
    project: str
    services: tuple[ServiceResult, ...]
    elapsed: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "services": [result.as_dict() for result in self.services],
            "elapsed_seconds": round(self.elapsed, 3),
        }


def restart(
    settings: Settings,
    runtime: DockerRuntime,
    services: Sequence[str] = (),
    *,
    wait: bool = True,
    stop_timeout: float | None = None,
    wait_timeout: float | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_event: EventSink | None = None,
) -> RestartReport:
    """Restart the containers of ``services`` (default: all of the project) in place and wait until they are healthy.

    The same containers are stopped and started again (nothing is recreated, so a
    changed file is not applied: that is ``up``'s job). Each is stopped with its
    own grace period unless ``stop_timeout``; the wait fails at once when one
    exits or turns unhealthy, with its last log lines.
    """
    emit = serialised(on_event)
    started = time.monotonic()
    deadline = started + (settings.wait_timeout if wait_timeout is None else wait_timeout)
    with _locked(runtime, settings.project, "restart", lock_timeout, emit):
        containers = select_containers(settings, runtime.containers(settings.project), services)
        cancel = threading.Event()  # set by a Ctrl-C: the health waits end at once

        def restart_one(container: Container) -> ServiceResult:
            service = container.service or container.name
            began = time.monotonic()

            def event(phase: Phase, health: str | None = None, detail: str = "") -> None:
                emit(ServiceEvent(service, phase, "restarted", health, detail, time.monotonic() - began))

            event("restarting")
            runtime.restart(container, stop_timeout)
            current = container.reload()
            if wait:
                own_deadline = min(deadline, time.monotonic() + health_budget(current.healthcheck))
                try:
                    current = wait_healthy(
                        current, own_deadline, stop=cancel, on_change=lambda health: event("running", health)
                    )
                except NotHealthy as problem:
                    event("failed", detail=problem.reason)
                    raise failed(
                        service,
                        problem.container,
                        problem.reason,
                        hint=f"see why with `ticketctl logs {service}`; `ticketctl up` recreates it from the file",
                    ) from None
            event("healthy" if current.health == "healthy" else "ready", current.health)
            return ServiceResult(service, "restarted", current.name, current.id, current.state, current.health)

        results = fan_out(restart_one, containers, name="restart", cancel=cancel)
    return RestartReport(settings.project, tuple(results), time.monotonic() - started)


def _locked(runtime: DockerRuntime, project: str, verb: str, timeout: float, emit: EventSink) -> ContextManager[Path]:
    """The project's lock for ``verb``; while another holds it, a ``lock`` step says whom we wait for."""
    return project_lock(
        runtime.endpoint.url,
        project,
        verb,
        timeout=timeout,
        on_wait=lambda holder: emit(StepEvent("lock", "started", f"waiting for {holder}")),
    )


def project_volumes(settings: Settings, runtime: DockerRuntime) -> list[str]:
    """Names of the volumes ``down --volumes`` would delete (for its confirmation prompt)."""
    containers = runtime.containers(settings.project, include_oneoff=True)
    return [volume.name for volume in _removable_volumes(runtime, settings.project, containers)]


def _removable_volumes(runtime: DockerRuntime, project: str, containers: Sequence[Container]) -> list[Volume]:
    """What ``down --volumes`` deletes: the project's named volumes and, as Compose's ``down -v``, the anonymous
    ones its containers mount (an image's ``VOLUME`` the stack does not name), found before the containers go."""
    anonymous = sorted({mount.name for c in containers for mount in c.volume_mounts if mount.anonymous})
    return runtime.volumes(project) + [Volume(name, {}) for name in anonymous]


def status(settings: Settings, runtime: DockerRuntime, environ: Mapping[str, str] | None = None) -> list[ServiceStatus]:
    """Each active service's container (or ``missing``); then containers of services the file defines under a
    profile not enabled now (started with ``--profile``; not orphans, as in Compose); then orphans, whose service
    the file no longer defines."""
    defined = _defined_services(settings, environ)
    enabled = set(settings.profiles)
    containers = runtime.containers(settings.project)
    by_service: dict[str, list[Container]] = {}
    for container in containers:
        by_service.setdefault(container.service or "?", []).append(container)
    now = datetime.now(UTC)
    rows = []
    for name, profiles in defined.items():
        found = by_service.pop(name, [])
        active = not profiles or bool(set(profiles) & enabled)
        if not found and active:
            rows.append(ServiceStatus(name, None, None, "missing", None, (), None, None, None))
        rows += [_status_row(name, container, now, profiles=() if active else profiles) for container in found]
    rows.sort(key=lambda row: bool(row.inactive_profiles))
    for name, found in sorted(by_service.items()):
        rows += [_status_row(name, container, now, orphan=True) for container in found]
    return rows


def _defined_services(settings: Settings, environ: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    """Every service that ``up`` may run, with its profiles: those of the rendered file, or of the model before
    anything is rendered."""
    from ticketctl.render.compose import COMPOSE_FILENAME

    path = settings.output_dir / COMPOSE_FILENAME
    if not path.is_file():
        return {service.name: service.profiles for service in build_stack(settings).services}
    return {service.name: service.profiles for service in load_compose_file(path, environ).services}


# --------------------------------------------------------------------------- inspection (doctor)


@dataclass(frozen=True)
class ProjectInspection:
    """What doctor reports about the project on the Engine; nothing is changed to learn it."""

    services: tuple[ServicePlan, ...]
    orphans: tuple[Container, ...]
    unused_volumes: tuple[str, ...]
    port_conflicts: tuple[PortConflict, ...]
    compose_file: str


def inspect_project(
    settings: Settings, runtime: DockerRuntime, environ: Mapping[str, str] | None = None
) -> ProjectInspection:
    """The rendered compose file beside the Engine's containers, volumes and ports: ``up``'s plan, plus volumes."""
    from ticketctl.render.compose import COMPOSE_FILENAME

    compose = load_compose_file(settings.output_dir / COMPOSE_FILENAME, environ)
    active = compose.active_services(settings.profiles)
    plan = plan_converge(settings, runtime, compose, active)
    mounted = {volume_name(settings.project, m.volume) for service in active for m in service.mounts}
    unused = tuple(sorted(v.name for v in runtime.volumes(settings.project) if v.name not in mounted))
    return ProjectInspection(
        services=plan.services,
        orphans=plan.orphans,
        unused_volumes=unused,
        port_conflicts=plan.port_conflicts,
        compose_file=str(compose.path),
    )


# --------------------------------------------------------------------------- helpers


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
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


def _what_runs(
    settings: Settings,
    runtime: DockerRuntime,
    choice: UpChoice,
    environ: Mapping[str, str] | None,
    emit: EventSink,
) -> tuple[RenderPlan | None, ComposeFile, tuple[ServiceSpec, ...], tuple[ServiceSpec, ...]]:
    """The render ``up`` would write, the Compose file as it will read, its active services and those ``up`` runs."""
    plan, compose = _plan_files(settings, runtime, render=choice.get("render", True), environ=environ, emit=emit)
    return plan, compose, *_services_to_run(settings, compose, choice.get("services"))


def _plan_files(
    settings: Settings,
    runtime: DockerRuntime,
    *,
    render: bool,
    environ: Mapping[str, str] | None,
    emit: EventSink,
) -> tuple[RenderPlan | None, ComposeFile]:
    """The render ``up`` would write (None with --no-render) and the Compose file as it will read once written."""
    from ticketctl.render.compose import COMPOSE_FILENAME, plan_render

    plan = None
    if render:
        emit(StepEvent("render", "started"))
        plan = plan_render(settings, start_interval=writes_start_interval(settings, runtime.api_version))
    compose = load_compose_file(
        settings.output_dir / COMPOSE_FILENAME, environ, pending=plan.contents() if plan is not None else None
    )
    if compose.name != settings.project:
        raise ConfigError(
            f"{compose.path}: written for project {compose.name!r}, but the settings say {settings.project!r}",
            hint="run `ticketctl render` (or `ticketctl up` without --no-render) to write it again",
        )
    return plan, compose


def _services_to_run(
    settings: Settings, compose: ComposeFile, services: Sequence[str] | None
) -> tuple[tuple[ServiceSpec, ...], tuple[ServiceSpec, ...]]:
    """The file's active services, and those ``up`` runs: the named ones and what they need (all by default)."""
    active = compose.active_services(settings.profiles)
    selected = with_dependencies(compose, active, list(services)) if services else active
    if not selected:
        raise ConfigError("no service to start", hint="check the profiles setting and the services you named")
    return active, selected


def _write_render(plan: RenderPlan, emit: EventSink) -> list[str]:
    from ticketctl.render.compose import write_render

    result = write_render(plan)
    changed = [str(f.path.name) for f in result.files if f.status != "unchanged"]
    emit(StepEvent("render", "done", f"{len(changed)} file(s) changed" if changed else "files unchanged"))
    written = [warning for warning in result.warnings if warning not in plan.warnings]
    for warning in written:
        emit(Notice(warning, "warning"))
    return written


def _status_row(
    service: str, container: Container, now: datetime, *, orphan: bool = False, profiles: tuple[str, ...] = ()
) -> ServiceStatus:
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
        inactive_profiles=profiles,
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
