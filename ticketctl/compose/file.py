"""Read a rendered ``docker-compose.yml`` (and ``.env``) into plain service specs.

``ticketctl up`` starts the stack from the same files that ``ticketctl render``
writes, so that what ``docker compose`` would run and what ticketctl runs can
never differ. This module is the translator's front half: it parses the file,
interpolates it (:mod:`ticketctl.compose.interpolation`), and turns each
service into a frozen :class:`ServiceSpec`. It supports the subset of the Compose specification that
ticketctl's templates use; anything else is refused with a one-line error that
names the file and the key, rather than being silently ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketctl.compose.hash import compose_service_hash
from ticketctl.compose.interpolation import compose_variables, interpolate_tree
from ticketctl.compose.syntax import PORT_RE, parse_duration, scalar
from ticketctl.config.files import read_text
from ticketctl.errors import ConfigError
from ticketctl.stack.types import Dependency, Healthcheck, PortBinding, VolumeMount

SERVICE_KEYS = frozenset(
    {
        "image",
        "profiles",
        "command",
        "environment",
        "ports",
        "volumes",
        "configs",
        "ulimits",
        "healthcheck",
        "depends_on",
        "stop_grace_period",
        "restart",
        "networks",
        "labels",
        "user",
        "container_name",
    }
)
TOP_LEVEL_KEYS = frozenset({"name", "version", "services", "networks", "volumes", "configs"})
DEPENDENCY_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")


# --------------------------------------------------------------------------- the specs


@dataclass(frozen=True)
class ConfigSpec:
    """A file copied into the container before it starts (Compose ``configs``)."""

    name: str
    source: str  # absolute path of the file on this machine
    target: str
    mode: int
    content: bytes = field(repr=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the file, interpolated and normalised."""

    name: str
    image: str
    command: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[VolumeMount, ...] = ()
    configs: tuple[ConfigSpec, ...] = ()
    ulimits: tuple[tuple[str, int, int], ...] = ()
    healthcheck: Healthcheck | None = None
    depends_on: tuple[Dependency, ...] = ()
    profiles: tuple[str, ...] = ()
    stop_grace_period: float = 10.0
    restart: str = "no"
    networks: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    user: str | None = None


@dataclass(frozen=True)
class ComposeFile:
    """A loaded Compose file: project name, services, networks, volumes."""

    path: Path
    name: str
    services: tuple[ServiceSpec, ...]
    networks: Mapping[str, Mapping[str, str]]  # name in the file → labels
    volumes: Mapping[str, Mapping[str, str]]
    # Service name → the config hash Docker Compose computes for it (its com.docker.compose.config-hash).
    compose_hashes: Mapping[str, str] = field(default_factory=dict)

    @property
    def working_dir(self) -> Path:
        return self.path.parent

    def service(self, name: str) -> ServiceSpec:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def active_services(self, profiles: tuple[str, ...]) -> tuple[ServiceSpec, ...]:
        """Services without a profile plus those of an enabled profile, as Compose selects them."""
        return tuple(s for s in self.services if not s.profiles or set(s.profiles) & set(profiles))


# --------------------------------------------------------------------------- loading


def _parse_yaml(text: str) -> Any:
    """``yaml.safe_load`` with libyaml's parser when PyYAML has it: 2 ms instead of 17 for a rendered file.

    A document libyaml refuses is parsed again by the pure-Python parser, so an
    error names the problem in the same words either way.
    """
    import yaml

    fast_loader = getattr(yaml, "CSafeLoader", None)
    if fast_loader is not None:
        try:
            return yaml.load(text, Loader=fast_loader)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def load_compose_file(
    path: Path, environ: Mapping[str, str] | None = None, *, pending: Mapping[Path, str] | None = None
) -> ComposeFile:
    """Parse, interpolate and normalise a Compose file; refuse what the translator cannot run.

    ``pending`` holds files about to be written (path → content: the file itself, ``.env`` beside it, its
    configs), which are read instead of the disk: ``up`` checks a render before it writes it.
    """
    import yaml

    display = str(path)
    pending = pending or {}
    if path in pending:
        text = pending[path]
    else:
        missing = ("Compose file not found", "run 'ticketctl render' first, or drop --no-render so that up renders it")
        text = read_text(path, display, missing=missing)
    try:
        raw = _parse_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{display}:{mark.line + 1}" if mark is not None else display
        raise ConfigError(
            f"{where}: invalid YAML: {getattr(error, 'problem', None) or error}",
            hint="render it again with 'ticketctl render', or fix your template",
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("services"), dict):
        raise ConfigError(
            f"{display}: expected a mapping with 'services'", hint="render it again with 'ticketctl render'"
        )
    for key in raw:
        if key not in TOP_LEVEL_KEYS and not str(key).startswith("x-"):
            raise _unsupported(display, str(key))
    env_file = path.parent / ".env"
    variables = compose_variables(env_file, environ, env_text=pending.get(env_file))
    tree = interpolate_tree(raw, variables, "", display)
    return _Loader(path, tree, pending).load()


def _unsupported(display: str, path: str) -> ConfigError:
    return ConfigError(
        f"{display}: {path}: not supported by ticketctl up",
        hint="remove it from your template (templates_dir), or run this file with 'docker compose' instead",
    )


class _Loader:
    """Normalises an interpolated Compose tree; every error names ``file: path``."""

    def __init__(self, path: Path, tree: dict[str, Any], pending: Mapping[Path, str]):
        self.path = path
        self.display = str(path)
        self.base_dir = path.parent
        self.tree = tree
        self.pending = pending

    def error(self, path: str, problem: str) -> ConfigError:
        return ConfigError(
            f"{self.display}: {path}: {problem}",
            hint="render it again with 'ticketctl render', or fix your template (templates_dir)",
        )

    def load(self) -> ComposeFile:
        name = self.tree.get("name")
        if not isinstance(name, str) or not name:
            raise self.error("name", "the project name is missing")
        networks = self._named_labels("networks")
        volumes = self._named_labels("volumes")
        configs = self._configs()
        services = tuple(
            self._service(service_name, body, configs, networks, volumes)
            for service_name, body in self.tree["services"].items()
        )
        self._check_dependencies(services)
        return ComposeFile(
            path=self.path,
            name=name,
            services=services,
            networks=networks,
            volumes=volumes,
            compose_hashes={
                service_name: compose_service_hash(body) for service_name, body in self.tree["services"].items()
            },
        )

    def _named_labels(self, section: str) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for name, body in (self.tree.get(section) or {}).items():
            body = body or {}
            if not isinstance(body, dict):
                raise self.error(f"{section}.{name}", "expected a mapping")
            for key in body:
                if key not in ("labels", "driver") and not str(key).startswith("x-"):
                    raise _unsupported(self.display, f"{section}.{name}.{key}")
            if body.get("driver") not in (None, "bridge" if section == "networks" else "local"):
                raise _unsupported(self.display, f"{section}.{name}.driver: {body['driver']}")
            result[str(name)] = self._labels(body.get("labels"), f"{section}.{name}.labels")
        return result

    def _configs(self) -> dict[str, Path]:
        result: dict[str, Path] = {}
        for name, body in (self.tree.get("configs") or {}).items():
            if not isinstance(body, dict) or set(body) != {"file"}:
                raise _unsupported(self.display, f"configs.{name} (only 'file:' configs are supported)")
            source = Path(str(body["file"]))
            result[str(name)] = source if source.is_absolute() else (self.base_dir / source)
        return result

    def _labels(self, value: Any, path: str) -> dict[str, str]:
        if value is None:
            return {}
        if isinstance(value, list):
            pairs = [str(item).split("=", 1) for item in value]
            return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
        if isinstance(value, dict):
            return {str(key): "" if item is None else scalar(item) for key, item in value.items()}
        raise self.error(path, "expected a mapping or a list of KEY=VALUE")

    def _service(
        self,
        name: str,
        body: Any,
        configs: Mapping[str, Path],
        networks: Mapping[str, Any],
        volumes: Mapping[str, Any],
    ) -> ServiceSpec:
        path = f"services.{name}"
        if not isinstance(body, dict):
            raise self.error(path, "expected a mapping")
        for key in body:
            if key not in SERVICE_KEYS and not str(key).startswith("x-"):
                raise _unsupported(self.display, f"{path}.{key}")
        image = body.get("image")
        if not isinstance(image, str) or not image:
            raise self.error(f"{path}.image", "every service needs an image (build: is not supported)")
        if "container_name" in body:
            raise _unsupported(self.display, f"{path}.container_name (names are <project>-<service>-1)")
        restart = str(body.get("restart", "no"))
        if restart.split(":", 1)[0] not in RESTART_POLICIES:
            raise self.error(f"{path}.restart", f"unknown restart policy {restart!r}")
        service_networks = self._service_networks(body.get("networks"), networks, path)
        return ServiceSpec(
            name=name,
            image=image,
            command=self._command(body.get("command"), f"{path}.command"),
            environment=self._environment(body.get("environment"), f"{path}.environment"),
            ports=tuple(self._port(item, f"{path}.ports[{i}]") for i, item in enumerate(body.get("ports") or [])),
            mounts=tuple(
                self._mount(item, volumes, f"{path}.volumes[{i}]") for i, item in enumerate(body.get("volumes") or [])
            ),
            configs=tuple(
                self._config(item, configs, f"{path}.configs[{i}]") for i, item in enumerate(body.get("configs") or [])
            ),
            ulimits=self._ulimits(body.get("ulimits"), f"{path}.ulimits"),
            healthcheck=self._healthcheck(body.get("healthcheck"), f"{path}.healthcheck"),
            depends_on=self._depends_on(body.get("depends_on"), f"{path}.depends_on"),
            profiles=tuple(str(p) for p in body.get("profiles") or ()),
            stop_grace_period=self._duration(body.get("stop_grace_period", "10s"), f"{path}.stop_grace_period"),
            restart=restart,
            networks=service_networks,
            labels=tuple(sorted(self._labels(body.get("labels"), f"{path}.labels").items())),
            user=None if body.get("user") is None else scalar(body["user"]),
        )

    def _command(self, value: Any, path: str) -> tuple[str, ...] | None:
        if value is None:
            return None
        if isinstance(value, str):
            import shlex

            return tuple(shlex.split(value))
        if isinstance(value, list):
            return tuple(scalar(item) for item in value)
        raise self.error(path, "expected a list or a string")

    def _environment(self, value: Any, path: str) -> tuple[tuple[str, str], ...]:
        if value is None:
            return ()
        if isinstance(value, dict):
            items = {str(k): "" if v is None else scalar(v) for k, v in value.items()}
        elif isinstance(value, list):
            pairs = [str(item).split("=", 1) for item in value]
            items = {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
        else:
            raise self.error(path, "expected a mapping or a list of KEY=VALUE")
        return tuple(sorted(items.items()))

    def _port(self, value: Any, path: str) -> PortBinding:
        if isinstance(value, dict):
            allowed = {"target", "published", "host_ip", "protocol", "mode"}
            if not set(value) <= allowed or "published" not in value:
                raise _unsupported(self.display, f"{path} (long syntax needs target and published)")
            host_ip, protocol = value.get("host_ip", "0.0.0.0"), value.get("protocol", "tcp")
            text = f"{host_ip}:{value['published']}:{value['target']}/{protocol}"
        else:
            text = scalar(value)
        match = PORT_RE.match(text)
        if match is None or match.group("host") is None:
            raise self.error(
                path, f"expected HOST_IP:HOST_PORT:CONTAINER_PORT, got {text!r} (ranges are not supported)"
            )
        host_port, container_port = int(match.group("host")), int(match.group("container"))
        for number in (host_port, container_port):
            if not 1 <= number <= 65535:
                raise self.error(path, f"port {number} is out of range 1-65535")
        return PortBinding(
            host_ip=(match.group("ip") or "0.0.0.0").strip("[]"),
            host_port=host_port,
            container_port=container_port,
            protocol=match.group("proto") or "tcp",
        )

    def _mount(self, value: Any, volumes: Mapping[str, Any], path: str) -> VolumeMount:
        if isinstance(value, str):
            parts = value.split(":")
            if len(parts) not in (2, 3):
                raise self.error(path, f"expected VOLUME:TARGET[:ro], got {value!r}")
            source, target, read_only = parts[0], parts[1], len(parts) == 3 and parts[2] == "ro"
        elif isinstance(value, dict):
            if value.get("type", "volume") != "volume" or not set(value) <= {"type", "source", "target", "read_only"}:
                raise _unsupported(self.display, f"{path} (only named volumes are supported)")
            source, target, read_only = (
                str(value.get("source", "")),
                str(value.get("target", "")),
                bool(value.get("read_only")),
            )
        else:
            raise self.error(path, "expected a mapping or VOLUME:TARGET")
        if source.startswith((".", "/", "~")):
            raise _unsupported(self.display, f"{path}: bind mount {source!r} (use a named volume)")
        if source not in volumes:
            raise self.error(path, f"volume {source!r} is not declared under the top-level volumes:")
        if not target.startswith("/"):
            raise self.error(path, f"target {target!r} must be an absolute path")
        return VolumeMount(volume=source, target=target, read_only=read_only)

    def _config(self, value: Any, configs: Mapping[str, Path], path: str) -> ConfigSpec:
        if isinstance(value, str):
            value = {"source": value}
        if not isinstance(value, dict) or not set(value) <= {"source", "target", "mode", "uid", "gid"}:
            raise _unsupported(self.display, path)
        name = str(value.get("source"))
        if name not in configs:
            raise self.error(path, f"config {name!r} is not declared under the top-level configs:")
        target = str(value.get("target") or f"/{name}")
        mode = value.get("mode", 0o755)
        if isinstance(mode, str):
            mode = int(mode, 8)
        source = configs[name]
        try:
            content = self.pending[source].encode("utf-8") if source in self.pending else source.read_bytes()
        except OSError as error:
            raise ConfigError(
                f"{self.display}: {path}: cannot read {source}: {error.strerror}",
                hint="run 'ticketctl render' to write it again",
            ) from None
        return ConfigSpec(name=name, source=str(source), target=target, mode=int(mode), content=content)

    def _ulimits(self, value: Any, path: str) -> tuple[tuple[str, int, int], ...]:
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise self.error(path, "expected a mapping")
        limits = []
        for name, limit in value.items():
            if isinstance(limit, int):
                limits.append((str(name), limit, limit))
            elif isinstance(limit, dict) and {"soft", "hard"} <= set(limit):
                limits.append((str(name), int(limit["soft"]), int(limit["hard"])))
            else:
                raise self.error(f"{path}.{name}", "expected a number or soft/hard")
        return tuple(sorted(limits))

    def _healthcheck(self, value: Any, path: str) -> Healthcheck | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(path, "expected a mapping")
        allowed = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
        for key in value:
            if key not in allowed:
                raise _unsupported(self.display, f"{path}.{key}")
        if value.get("disable"):
            return None
        test = value.get("test")
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        if not isinstance(test, list) or not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise self.error(f"{path}.test", "expected [CMD, ...], [CMD-SHELL, command] or a string")
        if test[0] == "NONE":
            return None
        start_interval = value.get("start_interval")
        return Healthcheck(
            test=tuple(scalar(part) for part in test),
            interval=self._duration(value.get("interval", "30s"), f"{path}.interval"),
            timeout=self._duration(value.get("timeout", "30s"), f"{path}.timeout"),
            retries=int(value.get("retries", 3)),
            start_period=self._duration(value.get("start_period", "0s"), f"{path}.start_period"),
            start_interval=None if start_interval is None else self._duration(start_interval, f"{path}.start_interval"),
        )

    def _depends_on(self, value: Any, path: str) -> tuple[Dependency, ...]:
        if value is None:
            return ()
        if isinstance(value, list):
            return tuple(Dependency(str(name), "service_started") for name in value)
        if not isinstance(value, dict):
            raise self.error(path, "expected a list or a mapping")
        dependencies = []
        for name, body in value.items():
            condition = (body or {}).get("condition", "service_started") if isinstance(body, dict) else None
            if condition not in DEPENDENCY_CONDITIONS:
                raise self.error(f"{path}.{name}.condition", f"expected one of {', '.join(DEPENDENCY_CONDITIONS)}")
            dependencies.append(Dependency(str(name), condition))
        return tuple(dependencies)

    def _service_networks(self, value: Any, networks: Mapping[str, Any], path: str) -> tuple[str, ...]:
        if value is None:
            names = ["default"]
        elif isinstance(value, list):
            names = [str(item) for item in value]
        elif isinstance(value, dict):
            for network, body in value.items():
                if body:
                    raise _unsupported(self.display, f"{path}.networks.{network} (aliases and addresses)")
            names = [str(item) for item in value]
        else:
            raise self.error(f"{path}.networks", "expected a list")
        if len(names) != 1:
            raise _unsupported(self.display, f"{path}.networks (exactly one network per service)")
        for name in names:
            if name not in networks and name != "default":
                raise self.error(f"{path}.networks", f"network {name!r} is not declared under the top-level networks:")
        return tuple(names)

    def _duration(self, value: Any, path: str) -> float:
        try:
            return parse_duration(value)
        except ValueError:
            raise self.error(path, f"expected a duration such as 5s, 500ms or 1m30s, got {value!r}") from None

    def _check_dependencies(self, services: tuple[ServiceSpec, ...]) -> None:
        names = {service.name for service in services}
        for service in services:
            for dependency in service.depends_on:
                if dependency.service not in names:
                    raise self.error(
                        f"services.{service.name}.depends_on",
                        f"depends on {dependency.service!r}, which is not a service of the file",
                    )
        dependency_order(services)  # raises on a cycle


# --------------------------------------------------------------------------- order


def dependency_order(services: tuple[ServiceSpec, ...] | list[ServiceSpec]) -> list[list[str]]:
    """Services grouped in start order: each group depends only on earlier groups.

    Dependencies outside ``services`` are ignored (they are not part of this run).
    A cycle is a :class:`ConfigError` naming the services in it.
    """
    names = {service.name for service in services}
    remaining = {s.name: {d.service for d in s.depends_on if d.service in names} for s in services}
    groups: list[list[str]] = []
    while remaining:
        ready = sorted(name for name, needs in remaining.items() if not needs)
        if not ready:
            raise ConfigError(
                f"depends_on forms a cycle between {', '.join(sorted(remaining))}",
                hint="remove one of the dependencies in your template",
            )
        groups.append(ready)
        for name in ready:
            del remaining[name]
        for needs in remaining.values():
            needs.difference_update(ready)
    return groups


def with_dependencies(
    compose: ComposeFile, active: tuple[ServiceSpec, ...], wanted: list[str]
) -> tuple[ServiceSpec, ...]:
    """The services named in ``wanted`` and, transitively, what they depend on."""
    by_name = {service.name: service for service in compose.services}
    active_names = {service.name for service in active}
    selected: set[str] = set()
    pending = list(wanted)
    while pending:
        name = pending.pop()
        if name in selected:
            continue
        if name not in by_name:
            raise ConfigError(
                f"no service named {name!r} in {compose.path.name}",
                hint=f"choose from: {', '.join(sorted(active_names))}",
            )
        selected.add(name)
        pending.extend(dependency.service for dependency in by_name[name].depends_on)
    return tuple(service for service in compose.services if service.name in selected)
