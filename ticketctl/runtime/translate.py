"""Translate a :class:`~ticketctl.compose.file.ServiceSpec` into Docker Engine API terms.

Pure functions, no Docker calls: the names and labels Compose gives to
containers, networks and volumes (so that ``docker compose -p <project> ps``
and Docker Desktop see ticketctl's stack as a Compose project), the engine
features that depend on the API version, the JSON body of
``POST /containers/create``, :func:`config_hash`, the fingerprint that
decides whether a running container still matches its service, and which of a
project's containers the service names on a command line mean.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from ticketctl import __version__
from ticketctl.compose.file import ComposeFile, ServiceSpec
from ticketctl.compose.hash import COMPOSE_VERSION
from ticketctl.config.settings import Settings
from ticketctl.errors import ConfigError, ExitCode, TicketctlError
from ticketctl.stack.model import build_stack

if TYPE_CHECKING:  # docker.py imports this module
    from ticketctl.runtime.docker import Container

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
ONEOFF_LABEL = "com.docker.compose.oneoff"
HASH_LABEL = "com.docker.compose.config-hash"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
VERSION_LABEL = "com.docker.compose.version"
DEPENDS_ON_LABEL = "com.docker.compose.depends_on"
# A throwaway container ticketctl runs on a project's volumes (snapshot restore): not part of the project's
# services, so Compose and `ps` do not see it, but it holds the volume while it exists.
HELPER_OF_LABEL = "io.ticketctl.helper-of"
IMAGE_LABEL = "com.docker.compose.image"
NETWORK_LABEL = "com.docker.compose.network"
VOLUME_LABEL = "com.docker.compose.volume"
TICKETCTL_MANAGED_LABEL = "io.ticketctl.managed-by"
TICKETCTL_VERSION_LABEL = "io.ticketctl.version"
TICKETCTL_PROJECT_LABEL = "io.ticketctl.project"
TICKETCTL_SERVICE_LABEL = "io.ticketctl.service"
# ticketctl's own fingerprint (effective config, config file contents, image ID); Compose's is HASH_LABEL.
TICKETCTL_HASH_LABEL = "io.ticketctl.config-hash"

NANOSECONDS = 1_000_000_000


def container_name(project: str, service: str, number: int = 1) -> str:
    """``<project>-<service>-1``, as Compose v2 names containers."""
    return f"{project}-{service}-{number}"


def network_name(project: str, network: str) -> str:
    """``<project>_<network>``, as Compose names networks."""
    return f"{project}_{network}"


def volume_name(project: str, volume: str) -> str:
    """``<project>_<volume>``, as Compose names volumes."""
    return f"{project}_{volume}"


# Fields of the Compose file that need a newer Engine API than 1.41 (Docker 20.10).
MINIMUM_API = {"healthcheck.start_interval": "1.44"}


@dataclass(frozen=True)
class EngineFeatures:
    """What the Engine's API version allows; newer fields are sent only where it has them."""

    api_version: str

    @property
    def healthcheck_start_interval(self) -> bool:
        return api_version_at_least(self.api_version, MINIMUM_API["healthcheck.start_interval"])

    def effective(self, service: ServiceSpec) -> ServiceSpec:
        """The service as this engine will run it: unsupported fields removed."""
        health = service.healthcheck
        if health is not None and health.start_interval is not None and not self.healthcheck_start_interval:
            return replace(service, healthcheck=replace(health, start_interval=None))
        return service

    def dropped(self, service: ServiceSpec) -> list[str]:
        """Fields of ``service`` that this engine cannot honour (keys of :data:`MINIMUM_API`)."""
        health = service.healthcheck
        if health is not None and health.start_interval is not None and not self.healthcheck_start_interval:
            return ["healthcheck.start_interval"]
        return []


def writes_start_interval(settings: Settings, engine_api: str | None) -> bool:
    """Whether docker-compose.yml gets ``healthcheck.start_interval``: the setting, or when it is ``auto``,
    whether the Engine of API ``engine_api`` has it (``docker compose up`` refuses the field on Engines
    before 25; without an Engine to ask, it is left out)."""
    if settings.docker_start_interval != "auto":
        return bool(settings.docker_start_interval)
    return engine_api is not None and api_version_at_least(engine_api, MINIMUM_API["healthcheck.start_interval"])


def api_version_at_least(version: str, minimum: str) -> bool:
    """Compare Engine API versions such as ``1.41`` and ``1.44`` numerically."""

    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split(".") if part.isdigit())

    return parts(version) >= parts(minimum)


def project_labels(project: str) -> dict[str, str]:
    return {
        PROJECT_LABEL: project,
        VERSION_LABEL: COMPOSE_VERSION,
        TICKETCTL_PROJECT_LABEL: project,
        TICKETCTL_MANAGED_LABEL: "ticketctl",
        TICKETCTL_VERSION_LABEL: __version__,
    }


def network_labels(compose: ComposeFile, network: str) -> dict[str, str]:
    return {**compose.networks.get(network, {}), **project_labels(compose.name), NETWORK_LABEL: network}


def volume_labels(compose: ComposeFile, volume: str) -> dict[str, str]:
    return {**compose.volumes.get(volume, {}), **project_labels(compose.name), VOLUME_LABEL: volume}


def container_labels(compose: ComposeFile, service: ServiceSpec, config_hash: str, image_id: str) -> dict[str, str]:
    """The Compose labels of a service's container plus ticketctl's own.

    ``com.docker.compose.config-hash`` is the hash Compose itself computes for
    the service, so that ``docker compose up`` finds the container up to date;
    ticketctl's :func:`config_hash` goes into its own label.
    """
    depends = ",".join(f"{d.service}:{d.condition}:false" for d in service.depends_on)
    return {
        **dict(service.labels),
        **project_labels(compose.name),
        SERVICE_LABEL: service.name,
        NUMBER_LABEL: "1",
        ONEOFF_LABEL: "False",
        HASH_LABEL: compose.compose_hashes[service.name],
        TICKETCTL_HASH_LABEL: config_hash,
        WORKING_DIR_LABEL: str(compose.working_dir),
        CONFIG_FILES_LABEL: str(compose.path),
        DEPENDS_ON_LABEL: depends,
        IMAGE_LABEL: image_id,
        TICKETCTL_SERVICE_LABEL: service.name,
    }


def create_body(
    service: ServiceSpec,
    *,
    project: str,
    labels: Mapping[str, str],
    features: EngineFeatures,
    inherited: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The body of ``POST /containers/create`` for ``service`` (already made effective); ``inherited``: the
    anonymous volumes of the container it replaces, as mounts (see ``converge.inherited_mounts``)."""
    service = features.effective(service)
    name = container_name(project, service.name)
    network = network_name(project, service.networks[0] if service.networks else "default")
    exposed: dict[str, dict[str, str]] = {f"{p.container_port}/{p.protocol}": {} for p in service.ports}
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in service.ports:
        bindings.setdefault(f"{port.container_port}/{port.protocol}", []).append(
            {"HostIp": port.host_ip, "HostPort": str(port.host_port)}
        )
    restart_name, _, retries = service.restart.partition(":")
    body: dict[str, Any] = {
        "Image": service.image,
        "Env": [f"{key}={value}" for key, value in service.environment],
        "Labels": dict(labels),
        "ExposedPorts": exposed,
        "StopTimeout": round(service.stop_grace_period),
        "HostConfig": {
            "PortBindings": bindings,
            "Mounts": [
                {
                    "Type": "volume",
                    "Source": volume_name(project, m.volume),
                    "Target": m.target,
                    "ReadOnly": m.read_only,
                }
                for m in service.mounts
            ]
            + [dict(mount) for mount in inherited],
            "RestartPolicy": {"Name": restart_name, "MaximumRetryCount": int(retries or 0)},
            "Ulimits": [{"Name": n, "Soft": soft, "Hard": hard} for n, soft, hard in service.ulimits],
            "NetworkMode": network,
        },
        "NetworkingConfig": {"EndpointsConfig": {network: {"Aliases": [name, service.name]}}},
    }
    if service.command is not None:
        body["Cmd"] = list(service.command)
    if service.user is not None:
        body["User"] = service.user
    if service.healthcheck is not None:
        health = service.healthcheck
        body["Healthcheck"] = {
            "Test": list(health.test),
            "Interval": _ns(health.interval),
            "Timeout": _ns(health.timeout),
            "Retries": health.retries,
            "StartPeriod": _ns(health.start_period),
        }
        if health.start_interval is not None:
            body["Healthcheck"]["StartInterval"] = _ns(health.start_interval)
    return body


def is_current(labels: Mapping[str, str], config_hash: str, compose_hash: str | None, image_id: str) -> bool:
    """Whether a container with these labels already runs this configuration and image.

    A container of this ticketctl carries :data:`TICKETCTL_HASH_LABEL`; one of
    an older ticketctl has that hash in Compose's label; one created by
    ``docker compose up`` has Compose's hash and the image ID in
    ``com.docker.compose.image``, and is taken as it is, as Compose would.
    """
    own = labels.get(TICKETCTL_HASH_LABEL)
    if own is not None:
        return own == config_hash
    compose_label = labels.get(HASH_LABEL)
    if compose_label == config_hash:
        return True
    return compose_hash is not None and compose_label == compose_hash and labels.get(IMAGE_LABEL) == image_id


def _ns(seconds: float) -> int:
    return round(seconds * NANOSECONDS)


def canonical_config(service: ServiceSpec) -> dict[str, Any]:
    """What decides the container: the spec without depends_on and profiles, configs by digest."""
    data = asdict(service)
    del data["depends_on"], data["profiles"]
    if data["user"] is None:
        del data["user"]  # so that a service without one keeps the hash it had before users existed
    # Which setting chose a host port is a hint for messages, not part of the container.
    data["ports"] = [
        {"host_ip": p.host_ip, "host_port": p.host_port, "container_port": p.container_port, "protocol": p.protocol}
        for p in service.ports
    ]
    data["configs"] = [
        {"name": c.name, "target": c.target, "mode": c.mode, "sha256": c.digest} for c in service.configs
    ]
    return data


def config_hash(service: ServiceSpec, image_id: str) -> str:
    """SHA-256 over the canonical JSON of the service's effective config plus the image ID."""
    document = {"service": canonical_config(service), "image_id": image_id}
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def select_containers(settings: Settings, existing: Sequence[Container], services: Sequence[str]) -> list[Container]:
    """The ``existing`` containers of ``services`` (all when empty); a service without a container is an error."""
    if not services:
        if not existing:
            raise TicketctlError(
                f"project {settings.project} has no containers",
                hint="start it with `ticketctl up`",
                exit_code=ExitCode.MISSING,
            )
        return list(existing)
    known = {service.name for service in build_stack(settings).services} | {c.service or "" for c in existing}
    selected = []
    for name in dict.fromkeys(services):
        if name not in known:
            raise ConfigError(
                f"no service named {name!r} in project {settings.project}",
                hint=f"choose from: {', '.join(sorted(known - {''}))}",
            )
        found = [c for c in existing if c.service == name]
        if not found:
            raise TicketctlError(
                f"{name} has no container in project {settings.project}",
                hint=f"start it with `ticketctl up {name}`",
                exit_code=ExitCode.MISSING,
            )
        selected += found
    return selected
