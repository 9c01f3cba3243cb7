"""The converge run of ``up``: make the Engine match the services of a rendered file.

1. check every host port it needs before anything is created;
2. make sure every image is present (pull only what is missing);
3. compare each service's config hash (effective config + image ID) with its
   container: unchanged → leave it running; changed → recreate that service
   only (named volumes are kept); stopped → start; never started → recreate;
4. create the network and volumes, then the services in dependency order, one
   worker thread each, waiting for ``service_healthy`` dependencies;
5. wait for health (per-service and overall deadlines), failing at once when a
   container exits or turns unhealthy; on failure remove what this run
   created (never volumes) unless told to keep it.

A Ctrl-C stops the workers at their next step and leaves a state the next run
converges from: a container that was created but never started is recreated,
one that exists and matches is kept, nothing is duplicated because every
container has a fixed name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ticketctl.compose.file import ComposeFile, ServiceSpec, dependency_order
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import FIELDS, Settings
from ticketctl.errors import DockerError, LockedError, PortConflictError
from ticketctl.events import EventSink, Notice, StepEvent
from ticketctl.parallel import Worker, wait_for
from ticketctl.runtime.compare import FieldChange, compare_container
from ticketctl.runtime.data_secrets import (
    LoginProbe,
    SecretsMismatchError,
    assess,
    bindings,
    login_mismatch,
    volume_labels_for_secrets,
)
from ticketctl.runtime.docker import ConflictError, Container, DockerRuntime, Image, PullFailedError, UlimitError
from ticketctl.runtime.events import Action, Phase, ResourceEvent, ServiceEvent
from ticketctl.runtime.health import (
    NotHealthy,
    ServiceFailedError,
    WaitCancelled,
    failed,
    health_budget,
    wait_healthy,
)
from ticketctl.runtime.ports import PortConflict, find_conflicts, port_needs
from ticketctl.runtime.translate import (
    HASH_LABEL,
    TICKETCTL_HASH_LABEL,
    config_hash,
    container_labels,
    container_name,
    create_body,
    is_current,
    network_labels,
    network_name,
    volume_labels,
    volume_name,
)
from ticketctl.stack.model import Stack, build_stack

# How often a starting service whose data predates the record of secrets is tried with them (see data_secrets).
LOGIN_PROBE_SECONDS = 1.0


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
class ServicePlan:
    """What ``up`` does to one service, decided before anything changes, and why.

    ``changes`` are the fields that make ``up`` recreate the container;
    ``drift`` the fields that differ although the container's config hash still
    matches, so ``up`` leaves them as they are (a change made outside ticketctl:
    ``docker update``, a container recreated by hand with its labels copied).
    """

    service: ServiceSpec  # as this Engine runs it (effective)
    action: Action
    image_id: str | None  # None: not present locally; up pulls it
    config_hash: str | None
    existing: Container | None
    extras: tuple[Container, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    drift: tuple[FieldChange, ...] = ()
    compose_hash: str | None = None  # what Docker Compose computes for the service in the rendered file
    inherited: tuple[Mapping[str, Any], ...] = ()  # a recreate: the anonymous volumes the new container keeps

    @property
    def outdated(self) -> bool:
        """The container runs an older configuration or image than the rendered file asks for."""
        return (
            self.existing is not None
            and self.config_hash is not None
            and not is_current(self.existing.labels, self.config_hash, self.compose_hash, self.image_id or "")
        )

    @property
    def compose_would_recreate(self) -> bool:
        """``docker compose up`` would recreate the container: its label is not Compose's hash of the file."""
        return self.existing is not None and self.existing.compose_hash != self.compose_hash

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service.name,
            "action": self.action,
            "container": self.existing.name if self.existing else None,
            "state": self.existing.state if self.existing else None,
            "image": self.service.image,
            "image_id": self.image_id,
            "changes": [change.as_dict() for change in self.changes],
            "drift": [change.as_dict() for change in self.drift],
            "extra_containers": [container.name for container in self.extras],
        }


@dataclass
class _Plan:
    """One service's decision, and the state of its worker during the run."""

    decision: ServicePlan
    needs_health: bool = False
    started: threading.Event = field(default_factory=threading.Event)
    healthy: threading.Event = field(default_factory=threading.Event)
    container: Container | None = None

    @property
    def service(self) -> ServiceSpec:
        return self.decision.service

    @property
    def action(self) -> Action:
        return self.decision.action

    @property
    def existing(self) -> Container | None:
        return self.decision.existing


@dataclass(frozen=True)
class ConvergePlan:
    """What a converge run would do, read from the Engine without changing anything (``ticketctl plan``)."""

    services: tuple[ServicePlan, ...]
    orphans: tuple[Container, ...]
    remove_orphans: bool
    port_conflicts: tuple[PortConflict, ...]
    pulls: tuple[str, ...]  # images not present locally
    networks: tuple[str, ...]  # to create
    volumes: tuple[str, ...]  # to create
    name_conflicts: tuple[str, ...] = ()  # containers up would create whose name is taken outside the project

    @property
    def changed(self) -> bool:
        return (
            any(service.action != "unchanged" for service in self.services)
            or bool(self.pulls or self.networks or self.volumes)
            or (self.remove_orphans and bool(self.orphans))
        )

    @property
    def drifted(self) -> bool:
        return any(service.drift for service in self.services)

    @property
    def blocked(self) -> bool:
        """``up`` would stop before changing anything (a port or a container name is taken)."""
        return bool(self.port_conflicts or self.name_conflicts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "services": [service.as_dict() for service in self.services],
            "orphans": [
                {"container": orphan.name, "service": orphan.service, "removed": self.remove_orphans}
                for orphan in self.orphans
            ],
            "port_conflicts": [
                {
                    "service": conflict.need.service,
                    "port": conflict.need.host_port,
                    "setting": conflict.need.setting,
                    "holder": conflict.holder,
                    "fix": conflict.fix,
                }
                for conflict in self.port_conflicts
            ],
            "name_conflicts": list(self.name_conflicts),
            "pulls": list(self.pulls),
            "networks": list(self.networks),
            "volumes": list(self.volumes),
        }


@dataclass(frozen=True)
class ConvergeResult:
    """What one converge run did: per service, and to the project's other containers, images and resources."""

    services: tuple[ServiceResult, ...]
    orphans: tuple[str, ...] = ()
    removed_orphans: tuple[str, ...] = ()
    pulled_images: tuple[str, ...] = ()
    created_networks: tuple[str, ...] = ()
    created_volumes: tuple[str, ...] = ()


class _Cancelled(Exception):
    """A worker stopped because another failed or the user pressed Ctrl-C."""


@dataclass(frozen=True)
class ConvergeOptions:
    """How a run converges: recreate every container, keep a failed run's, wait for health and how long."""

    force_recreate: bool = False
    keep_on_failure: bool = False
    wait: bool = True
    wait_timeout: float = 300.0  # the whole run
    service_timeout: float | None = None  # one service; None: its healthcheck's own budget


class ConvergeRun:
    """One converge run: plan, create, start, wait, clean up on failure."""

    def __init__(
        self,
        settings: Settings,
        runtime: DockerRuntime,
        compose: ComposeFile,
        selected: tuple[ServiceSpec, ...],
        active: tuple[ServiceSpec, ...],
        emit: EventSink,
        options: ConvergeOptions,
        secrets: Secrets,
        login: LoginProbe,
        generated: tuple[str, ...] = (),
        before_changes: Callable[[], None] = lambda: None,
    ):
        self.settings = settings
        self.secrets = secrets
        self.login = login  # a MySQL login with the secrets in effect (see data_secrets)
        self.generated = generated  # secrets about to be written into .env for the first time
        self.before_changes = before_changes
        # Services whose data predates ticketctl's record of secrets: their login is tried while they start.
        self.unverified: set[str] = set()
        self.runtime = runtime
        self.compose = compose
        self.selected = selected
        self.active_names = {service.name for service in active}
        # As Compose: a container of a service under a profile not enabled now is no orphan; it is left alone.
        self.defined_names = {service.name for service in compose.services}
        self.emit = emit
        self.options = options
        self.project = settings.project
        # What runs is the rendered file; the model it was rendered from names the setting behind a value.
        self.model = build_stack(settings)
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.failure_lock = threading.Lock()
        self.created: list[Container] = []
        self.inheriting: set[str] = set()  # created containers that took over their predecessor's anonymous volumes
        self.created_networks: list[str] = []
        self.created_volumes: list[str] = []
        self.deadline = 0.0

    # ------------------------------------------------------------------ the steps

    def execute(self, *, remove_orphans: bool) -> ConvergeResult:
        existing = self.runtime.containers(self.project)
        orphans = [c for c in existing if c.service not in self.defined_names]
        for orphan in orphans:
            self.emit(ResourceEvent("container", orphan.name, "orphan"))
        self._check_data_secrets(existing)
        self._check_ports(releasing=orphans if remove_orphans else [])
        self.before_changes()
        images, pulled = self._ensure_images()
        plans = self._plan(existing, images)
        removed_orphans = []
        if remove_orphans:
            for orphan in orphans:
                stop_and_remove(self.runtime, orphan, self.emit)
                removed_orphans.append(orphan.name)
        self._ensure_networks_and_volumes()
        self.deadline = time.monotonic() + self.options.wait_timeout
        self._run_workers(plans)
        results = tuple(self._result(plan) for plan in plans.values())
        return ConvergeResult(
            services=results,
            orphans=tuple(o.name for o in orphans if o.name not in removed_orphans),
            removed_orphans=tuple(removed_orphans),
            pulled_images=tuple(pulled),
            created_networks=tuple(self.created_networks),
            created_volumes=tuple(self.created_volumes),
        )

    def _check_data_secrets(self, existing: list[Container]) -> None:
        """Refuse before anything changes when the data volumes do not know the secrets in effect."""
        self.emit(StepEvent("secrets", "started"))
        found = assess(
            self.settings,
            self.runtime,
            self.model,
            self.secrets,
            login=self.login,
            generated=self.generated,
            containers=existing,
        )
        if found.mismatches:
            self.emit(StepEvent("secrets", "failed"))
            raise SecretsMismatchError(self.settings, found.mismatches)
        self.unverified = {
            b.service for b in bindings(self.model) if volume_name(self.project, b.volume) in found.unknown
        }
        self.emit(StepEvent("secrets", "done"))

    def _check_ports(self, *, releasing: list[Container]) -> None:
        self.emit(StepEvent("ports", "started"))
        conflicts = port_conflicts(self.runtime, self.model, self.selected, self.project, releasing)
        if conflicts:
            self.emit(StepEvent("ports", "failed"))
            message = "; ".join(conflict.describe() for conflict in conflicts)
            raise PortConflictError(message, hint=conflicts[0].fix)
        self.emit(StepEvent("ports", "done", f"{len(port_needs(self.model, self.selected))} port(s) checked"))

    def _ensure_images(self) -> tuple[dict[str, Image | None], list[str]]:
        images = local_images(self.runtime, self.selected)
        pulled: list[str] = []
        for service in self.selected:
            if images[service.image] is None:
                self.emit(ServiceEvent(service.name, "pulling", detail=service.image))
                images[service.image] = self._pull(service)
                pulled.append(service.image)
        return images, pulled

    def _pull(self, service: ServiceSpec) -> Image:
        setting = image_setting(self.model, service)
        try:
            self.runtime.pull(service.image, self.emit)
            pulled = self.runtime.image(service.image)
            if pulled is None:
                raise PullFailedError(service.image, "the Engine reported success but the image is not there")
            return pulled
        except PullFailedError as error:
            env = FIELDS[setting].env_var if setting in FIELDS else None
            where = f" ({setting})" if setting else ""
            how = f"set {setting} (or {env}) to it" if setting and env else "use that image in the file"
            raise DockerError(
                f"cannot pull {service.image}{where} for {service.name}: {error.reason}",
                hint=f"build or load the image locally (`docker build -t NAME .` or `docker load -i FILE`) and {how}",
            ) from None

    def _plan(self, existing: list[Container], images: Mapping[str, Image | None]) -> dict[str, _Plan]:
        healthy_needed = {
            dependency.service
            for service in self.selected
            for dependency in service.depends_on
            if dependency.condition == "service_healthy"
        }
        decisions = plan_services(
            self.runtime,
            self.model,
            self.selected,
            existing,
            images,
            self.compose.compose_hashes,
            force_recreate=self.options.force_recreate,
        )
        return {
            decision.service.name: _Plan(
                decision, needs_health=self.options.wait or decision.service.name in healthy_needed
            )
            for decision in decisions
        }

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
                labels = volume_labels(self.compose, volume)
                labels.update(volume_labels_for_secrets(self.model, self.project, volume, self.secrets))
                self.runtime.create_volume(name, labels)
                self.created_volumes.append(name)
                self.emit(ResourceEvent("volume", name, "created"))

    # ------------------------------------------------------------------ workers

    def _run_workers(self, plans: dict[str, _Plan]) -> None:
        order = [name for group in dependency_order(list(self.selected)) for name in group]
        started: list[Worker] = []
        try:
            for name in order:
                worker = Worker(self._worker, plans[name], plans, name=f"up-{name}")
                worker.start()
                started.append(worker)
            wait_for(started)
        except KeyboardInterrupt:
            self.stop.set()
            wait_for(started)  # each stops at its next step; nothing runs on after the process says it stopped
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
        for extra in plan.decision.extras:
            self._checkpoint()
            stop_and_remove(self.runtime, extra, self.emit)
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
        setting = "search.nofile" if service.name == self.settings.search.engine else None
        change = f"lower {setting} ({FIELDS[setting].env_var}=20000)" if setting else "lower the ulimit"
        return DockerError(
            f"{service.name}: the Docker Engine cannot set ulimit {limits}: its own limit is lower",
            hint=f"{change}, or raise dockerd's open-files limit (LimitNOFILE) and restart it",
        )

    def _create(self, plan: _Plan) -> Container:
        service = plan.service
        digest, image_id = plan.decision.config_hash, plan.decision.image_id
        assert digest is not None and image_id is not None, "up pulls every missing image before it plans"
        labels = container_labels(self.compose, service, digest, image_id)
        body = create_body(
            service,
            project=self.project,
            labels=labels,
            features=self.runtime.features,
            inherited=plan.decision.inherited,
        )
        name = container_name(self.project, service.name)
        try:
            container = self.runtime.create_container(name, body)
        except ConflictError:
            raise _raced(name) from None
        with self.failure_lock:
            self.created.append(container)
            if plan.decision.inherited:
                self.inheriting.add(container.name)
        for config in service.configs:
            self.runtime.copy_file(container, config.target, config.content, config.mode)
        return container

    def _wait_healthy(self, plan: _Plan, container: Container, began: float, event: Callable[..., None]) -> Container:
        service = plan.service
        timeout = self.options.service_timeout
        budget = health_budget(service.healthcheck) if timeout is None else timeout
        deadline = min(time.monotonic() + budget, self.deadline)
        try:
            return wait_healthy(
                container,
                deadline,
                stop=self.stop,
                on_change=lambda health: event("running", health),
                while_starting=self._login_check(service.name),
            )
        except WaitCancelled:
            raise _Cancelled() from None
        except NotHealthy as problem:
            reason = problem.reason
            if problem.timed_out:
                which = "--wait-timeout" if deadline == self.deadline else "its health budget (--service-timeout)"
                reason = f"not healthy after {time.monotonic() - began:.0f}s ({which}; {problem.reason})"
            raise failed(service.name, problem.container, reason) from None

    def _login_check(self, service: str) -> Callable[[Container], None] | None:
        """For a service whose data predates ticketctl's record of secrets: while it starts, a login with the
        secrets in effect once a second, refused at once when MySQL refuses it (not after the health budget)."""
        if service not in self.unverified:
            return None
        next_login = 0.0

        def check(container: Container) -> None:
            nonlocal next_login
            if time.monotonic() < next_login:
                return
            next_login = time.monotonic() + LOGIN_PROBE_SECONDS
            mismatch = login_mismatch(self.settings, self.model, container, self.secrets, self.login)
            if mismatch is not None:
                raise SecretsMismatchError(self.settings, [mismatch])

        return check

    def _clean_up(self) -> None:
        """Remove what this run created (containers, networks), never a named volume: only the anonymous volumes
        Docker made for these containers moments ago, which nothing would mount again (an inherited one stays)."""
        if self.options.keep_on_failure:
            self.emit(Notice("--keep-on-failure: the containers of this run are left for inspection", "warning"))
            return
        for container in self.created:
            if container.name in self.inheriting:
                self._keep_for_its_volumes(container)
                continue
            try:
                self.runtime.remove(container, fresh_anonymous_volumes=True)
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

    def _keep_for_its_volumes(self, container: Container) -> None:
        """A failed run stops, but keeps, a container that took over the anonymous volumes of the one it replaced:
        removed, nothing would mount them again; kept, the next up recreates it and hands them on."""
        try:
            self.runtime.stop(container)
        except DockerError as error:
            self.emit(Notice(f"could not stop {container.name}: {error}", "warning"))
        self.emit(
            Notice(
                f"{container.name} is kept, stopped: it holds the data of its image's own volumes "
                "(taken over from the container it replaced); the next up recreates it with them",
                "warning",
            )
        )

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


# --------------------------------------------------------------------------- planning, shared by up and plan


def plan_converge(
    settings: Settings,
    runtime: DockerRuntime,
    compose: ComposeFile,
    selected: tuple[ServiceSpec, ...],
    *,
    force_recreate: bool = False,
    remove_orphans: bool = False,
) -> ConvergePlan:
    """What :meth:`ConvergeRun.execute` would do now, from reads only: the same decisions, nothing changed."""
    project = settings.project
    model = build_stack(settings)
    # As the run: a container of a service under a profile not enabled now is no orphan.
    defined_names = {service.name for service in compose.services}
    existing = runtime.containers(project)
    orphans = [c for c in existing if c.service not in defined_names]
    conflicts = port_conflicts(runtime, model, selected, project, orphans if remove_orphans else [])
    images = local_images(runtime, selected)
    services = plan_services(
        runtime, model, selected, existing, images, compose.compose_hashes, force_recreate=force_recreate
    )
    names = [container_name(project, plan.service.name) for plan in services if plan.action == "created"]
    taken = [found for found in (runtime.inspect(name) for name in names) if found is not None]
    networks = sorted({network_name(project, n) for service in selected for n in (service.networks or ("default",))})
    volumes = sorted({volume_name(project, mount.volume) for service in selected for mount in service.mounts})
    return ConvergePlan(
        services=tuple(services),
        orphans=tuple(orphans),
        remove_orphans=remove_orphans,
        port_conflicts=tuple(conflicts),
        pulls=tuple(reference for reference, image in images.items() if image is None),
        networks=tuple(name for name in networks if runtime.network(name) is None),
        volumes=tuple(name for name in volumes if runtime.volume(name) is None),
        name_conflicts=tuple(
            f"{found.name} exists but is not a container of project {project}"
            + (f" (it belongs to project {found.project})" if found.project else "")
            for found in taken
        ),
    )


def port_conflicts(
    runtime: DockerRuntime,
    model: Stack,
    selected: Sequence[ServiceSpec],
    project: str,
    releasing: Sequence[Container],
) -> list[PortConflict]:
    """The host ports the selected services need that someone else holds (``releasing`` will let theirs go)."""
    return find_conflicts(
        port_needs(model, selected),
        runtime.published_ports(),
        project=project,
        releasing={c.name for c in releasing},
        local=runtime.endpoint.is_local,
    )


def local_images(runtime: DockerRuntime, selected: Sequence[ServiceSpec]) -> dict[str, Image | None]:
    """Each image reference of the selected services and the local image it points to (None: not here)."""
    return {reference: runtime.image(reference) for reference in dict.fromkeys(s.image for s in selected)}


def image_setting(model: Stack, service: ServiceSpec) -> str:
    """The setting that chooses a service's image: the file's label, else the stack model's."""
    label = dict(service.labels).get("io.ticketctl.image-setting")
    if label:
        return label
    try:
        return model.service(service.name).image_setting
    except KeyError:
        return ""


def plan_services(
    runtime: DockerRuntime,
    model: Stack,
    selected: Sequence[ServiceSpec],
    existing: Sequence[Container],
    images: Mapping[str, Image | None],
    compose_hashes: Mapping[str, str],
    *,
    force_recreate: bool = False,
) -> list[ServicePlan]:
    """The decision for every selected service: create, recreate, start or leave it, and which fields say so.

    ``compose_hashes``: Compose's config hash of each service in the rendered file (a container that
    ``docker compose up`` created from it is taken as it is, as Compose would).
    """
    plans = []
    for spec in selected:
        service = runtime.features.effective(spec)
        image = images.get(service.image)
        image_id = image.id if image is not None else None
        digest = config_hash(service, image_id) if image_id is not None else None
        compose_hash = compose_hashes.get(service.name)
        name = container_name(model.project, service.name)
        mine = [c for c in existing if c.service == service.name]
        current = next((c for c in mine if c.name == name), None)
        current_config = (
            current is not None
            and digest is not None
            and is_current(current.labels, digest, compose_hash, image_id or "")
        )
        action = decide(current, current_config, force_recreate=force_recreate)
        changes: list[FieldChange] = []
        drift: list[FieldChange] = []
        if current is not None:
            differences = _differences(runtime, model, service, current, image)
            if not current_config:
                changes = differences or [_unexplained(runtime, service, current, digest)]
            else:
                drift = differences
            changes += _state_change(current, action)
        inherited = inherited_mounts(current, image, service) if action == "recreated" and current else ()
        plans.append(
            ServicePlan(
                service=service,
                action=action,
                image_id=image_id,
                config_hash=digest,
                existing=current,
                extras=tuple(c for c in mine if c is not current),
                changes=tuple(changes),
                drift=tuple(drift),
                compose_hash=compose_hash,
                inherited=inherited,
            )
        )
    return plans


def inherited_mounts(current: Container, image: Image | None, service: ServiceSpec) -> tuple[Mapping[str, Any], ...]:
    """The anonymous volumes of ``current`` that the container replacing it mounts again, as Compose v2 does:
    those at a path the new image declares as ``VOLUME`` and the service does not mount. Without this, data an
    image keeps in its own ``VOLUME`` (one the stack does not name) would stay behind in a volume nothing
    mounts any more."""
    if image is None:
        return ()
    mounted = {mount.target for mount in service.mounts}
    return tuple(
        {"Type": "volume", "Source": mount.name, "Target": mount.destination, "ReadOnly": mount.read_only}
        for mount in current.volume_mounts
        if mount.anonymous and mount.destination in image.volumes and mount.destination not in mounted
    )


def decide(current: Container | None, current_config: bool, *, force_recreate: bool = False) -> Action:
    """Create, recreate, start or leave a service's container (``current_config``: it runs the file's
    configuration and image, see :func:`~ticketctl.runtime.translate.is_current`)."""
    if current is None:
        return "created"
    # A container that never started may lack its config files (interrupted run): recreate it.
    if force_recreate or not current_config or current.state in ("created", "dead", "removing", "paused"):
        return "recreated"
    if current.state == "exited":
        return "started"
    return "unchanged"


def _differences(
    runtime: DockerRuntime, model: Stack, service: ServiceSpec, current: Container, image: Image | None
) -> list[FieldChange]:
    body = create_body(service, project=model.project, labels=dict(service.labels), features=runtime.features)
    settings = {"image": image_setting(model, service)}
    try:
        modelled = model.service(service.name)
    except KeyError:
        modelled = None
    if modelled is not None:
        settings["ports"] = ", ".join(dict.fromkeys(port.setting for port in modelled.ports if port.setting))
        if modelled.ulimits and service.name == model.search_engine:
            settings["ulimits"] = "search.nofile"
    return compare_container(current, body, image, file_labels=service.labels, settings=settings)


def _unexplained(runtime: DockerRuntime, service: ServiceSpec, current: Container, digest: str | None) -> FieldChange:
    """The config hash differs and no field of ``docker inspect`` does: a config file, or another hash recipe."""
    for config in service.configs:
        placed = runtime.read_file(current, config.target)
        if placed != config.content:
            return FieldChange(f"config file {config.target}", "differs" if placed else None, f"{config.source}")
    own = current.labels.get(TICKETCTL_HASH_LABEL)
    return FieldChange(
        f"config hash ({TICKETCTL_HASH_LABEL if own is not None else HASH_LABEL})",
        (own or current.compose_hash or "(none)")[:12],
        (digest or "(after the pull)")[:12],
    )


def _state_change(current: Container, action: Action) -> list[FieldChange]:
    if action == "started" or (action == "recreated" and current.state in ("created", "dead", "removing", "paused")):
        return [FieldChange("state", current.state, "running")]
    return []


def stop_and_remove(runtime: DockerRuntime, container: Container, emit: EventSink) -> None:
    """Stop a container that runs, then remove it (its volumes stay)."""
    if container.state in ("running", "restarting", "paused"):
        runtime.stop(container)
    runtime.remove(container)
    emit(ResourceEvent("container", container.name, "removed"))


def _raced(name: str) -> LockedError:
    """Someone created ``name`` between our look and our create: another machine on the same Engine."""
    return LockedError(
        f"{name} was created by someone else at the same moment (another ticketctl or docker compose on this Engine)",
        hint="run `ticketctl up` again once the other run has finished; it converges",
    )
