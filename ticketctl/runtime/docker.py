"""The only module that imports ``docker``: small named wrappers over the Docker SDK.

:class:`DockerRuntime` connects to the Engine the way the Docker CLI does
(``DOCKER_HOST``, then ``DOCKER_CONTEXT``, then the current context of
``~/.docker/config.json``, then the local socket), reads the Engine's API
version, and offers the handful of calls ``up``/``down``/``status`` need.
:class:`Container`, :class:`Network` and :class:`Volume` wrap the Engine's
JSON in named properties. Every ``docker.errors.*`` and connection error is
translated here into a :class:`~ticketctl.errors.DockerError` whose hint is the
fix (start Docker, check ``DOCKER_HOST``, …).
"""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import docker
import docker.errors
import requests

from ticketctl.errors import DockerError
from ticketctl.events import EventSink, ignore
from ticketctl.runtime.endpoint import Endpoint, resolve_endpoint
from ticketctl.runtime.events import PullEvent
from ticketctl.runtime.exec import ExecSession
from ticketctl.runtime.ports import ContainerPort
from ticketctl.runtime.translate import (
    CONFIG_FILES_LABEL,
    HASH_LABEL,
    HELPER_OF_LABEL,
    NANOSECONDS,
    ONEOFF_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    EngineFeatures,
)
from ticketctl.stack.types import Healthcheck, PortBinding

# The name Docker gives a volume it creates for an image's VOLUME that nothing mounts (an anonymous volume).
ANONYMOUS_VOLUME_RE = re.compile(r"[0-9a-f]{64}")
START_DOCKER_HINT = "start Docker: `sudo dockerd &` (Linux) or Docker Desktop; if it runs elsewhere, check DOCKER_HOST"


def tls_from_environment(environ: Mapping[str, str]) -> Any:
    """The TLS settings of ``DOCKER_HOST`` from ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH``, as the Docker CLI
    reads them (None without TLS)."""
    from docker.utils import kwargs_from_env

    try:
        return kwargs_from_env(environment=dict(environ)).get("tls")
    except docker.errors.DockerException as error:
        raise DockerError(f"DOCKER_HOST/DOCKER_CERT_PATH: {error}", hint="check DOCKER_CERT_PATH") from None


def tls_config(client_cert: tuple[str, str] | None, ca_cert: str | None, *, verify: bool | str | None) -> Any:
    """The SDK's TLS settings of a Docker context's certificates (``verify``: as ``docker.tls.TLSConfig``)."""
    from docker.tls import TLSConfig

    return TLSConfig(client_cert=client_cert, ca_cert=ca_cert, verify=verify)


# --------------------------------------------------------------------------- error translation


def _root_cause(error: BaseException) -> BaseException:
    seen: set[int] = set()
    current: BaseException = error
    while id(current) not in seen:
        seen.add(id(current))
        for attribute in ("reason", "__cause__", "__context__"):
            nested = getattr(current, attribute, None)
            if isinstance(nested, BaseException):
                current = nested
                break
        else:
            for argument in getattr(current, "args", ()):
                if isinstance(argument, BaseException):
                    current = argument
                    break
            else:
                return current
    return current


def unreachable(endpoint: Endpoint, error: BaseException) -> DockerError:
    """The one-line error for an Engine that does not answer, with the fix."""
    cause = _root_cause(error)
    text = str(error)
    if isinstance(cause, PermissionError) or "Permission denied" in text:
        return DockerError(
            f"permission denied on the Docker Engine at {endpoint.describe()}",
            hint="add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or use sudo",
        )
    if isinstance(cause, FileNotFoundError) or "No such file" in text:
        reason = "the socket does not exist (Docker is not running)"
    elif isinstance(cause, ConnectionRefusedError) or "refused" in text:
        reason = "connection refused (Docker is not running there)"
    else:
        reason = f"{type(cause).__name__}: {cause}".strip()
    return DockerError(f"cannot reach the Docker Engine at {endpoint.describe()}: {reason}", hint=START_DOCKER_HINT)


def api_error_text(error: docker.errors.APIError) -> str:
    explanation = error.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or error).strip().splitlines()[0] if (explanation or str(error)) else "unknown error"


class ConflictError(DockerError):
    """The Engine refused because a name is already taken (HTTP 409)."""


class PortAllocatedError(DockerError):
    """The Engine could not publish a port (it is taken on the Docker host)."""


class UlimitError(DockerError):
    """The Engine could not give the container its ulimits: they exceed the Engine's own."""


class PullFailedError(DockerError):
    """An image could not be pulled; ``reason`` says why (the core adds the setting)."""

    def __init__(self, image: str, reason: str):
        super().__init__(f"cannot pull {image}: {reason}")
        self.image = image
        self.reason = reason


# --------------------------------------------------------------------------- wrappers


def _parse_time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-"):
        return None
    text = value.rstrip("Z")
    if "." in text:
        head, fraction = text.split(".", 1)
        digits = "".join(ch for ch in fraction if ch.isdigit())[:6]
        text = f"{head}.{digits}"
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None


class Container:
    """A container as ``docker inspect`` shows it, with named properties."""

    def __init__(self, data: Mapping[str, Any], runtime: DockerRuntime):
        self._data = data
        self._runtime = runtime

    def __repr__(self) -> str:
        return f"Container({self.name}, {self.state})"

    @property
    def id(self) -> str:
        return str(self._data["Id"])

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def name(self) -> str:
        return str(self._data.get("Name", "")).lstrip("/")

    @property
    def labels(self) -> dict[str, str]:
        return dict((self._data.get("Config") or {}).get("Labels") or {})

    @property
    def project(self) -> str | None:
        return self.labels.get(PROJECT_LABEL)

    @property
    def service(self) -> str | None:
        return self.labels.get(SERVICE_LABEL)

    @property
    def compose_hash(self) -> str | None:
        """The config hash Compose compares (``com.docker.compose.config-hash``)."""
        return self.labels.get(HASH_LABEL)

    @property
    def config_files(self) -> str | None:
        return self.labels.get(CONFIG_FILES_LABEL)

    @property
    def oneoff(self) -> bool:
        return self.labels.get(ONEOFF_LABEL, "False").lower() == "true"

    @property
    def state(self) -> str:
        """created, running, paused, restarting, removing, exited or dead."""
        return str((self._data.get("State") or {}).get("Status", "unknown"))

    @property
    def environment(self) -> dict[str, str]:
        """The environment the container was created with (it holds the secrets it runs with: never show it)."""
        pairs = (str(item).partition("=") for item in (self._data.get("Config") or {}).get("Env") or [])
        return {name: value for name, _, value in pairs}

    @property
    def state_text(self) -> str:
        """The state in words: an exit code only where the container has exited, which a paused one has not."""
        if self.state in ("exited", "dead"):
            return f"{self.state} (exit code {self.exit_code})"
        if self.state == "created":
            return "created but never started"
        return self.state

    @property
    def health(self) -> str | None:
        """starting, healthy or unhealthy; None without a healthcheck."""
        health = (self._data.get("State") or {}).get("Health")
        return str(health["Status"]) if health else None

    @property
    def has_healthcheck(self) -> bool:
        test = ((self._data.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
        return bool(test) and test[0] != "NONE"

    @property
    def healthcheck(self) -> Healthcheck | None:
        """The container's healthcheck in seconds, with the Engine's defaults for what it leaves at zero."""
        config = (self._data.get("Config") or {}).get("Healthcheck") or {}
        test = config.get("Test") or []
        if not test or test[0] == "NONE":
            return None
        return Healthcheck(
            test=tuple(test),
            interval=(config.get("Interval") or 30 * NANOSECONDS) / NANOSECONDS,
            timeout=(config.get("Timeout") or 30 * NANOSECONDS) / NANOSECONDS,
            retries=int(config.get("Retries") or 3),
            start_period=(config.get("StartPeriod") or 0) / NANOSECONDS,
        )

    @property
    def pid(self) -> int:
        """The host's process id of the container's main process (0 when it does not run)."""
        return int((self._data.get("State") or {}).get("Pid") or 0)

    @property
    def exit_code(self) -> int:
        return int((self._data.get("State") or {}).get("ExitCode") or 0)

    @property
    def restart_count(self) -> int:
        return int(self._data.get("RestartCount") or 0)

    @property
    def error(self) -> str:
        return str((self._data.get("State") or {}).get("Error") or "")

    @property
    def image(self) -> str:
        return str((self._data.get("Config") or {}).get("Image", ""))

    @property
    def image_id(self) -> str:
        return str(self._data.get("Image", ""))

    @property
    def started_at(self) -> datetime | None:
        return _parse_time((self._data.get("State") or {}).get("StartedAt"))

    @property
    def stop_timeout(self) -> int | None:
        value = (self._data.get("Config") or {}).get("StopTimeout")
        return int(value) if value is not None else None

    @property
    def volume_mounts(self) -> list[VolumeMountState]:
        """The volumes mounted in it, named ones and anonymous ones alike."""
        return [
            VolumeMountState(str(mount["Name"]), str(mount.get("Destination", "")), not mount.get("RW", True))
            for mount in self._data.get("Mounts") or []
            if mount.get("Type") == "volume" and mount.get("Name")
        ]

    @property
    def ports(self) -> list[PortBinding]:
        """Published ports: live bindings when running, else the declared ones."""
        live = (self._data.get("NetworkSettings") or {}).get("Ports") or {}
        declared = (self._data.get("HostConfig") or {}).get("PortBindings") or {}
        source = live if any(live.values()) else declared
        ports = []
        for key, bindings in source.items():
            container_port, _, protocol = key.partition("/")
            for binding in bindings or []:
                if binding.get("HostPort"):
                    ports.append(
                        PortBinding(
                            host_ip=binding.get("HostIp") or "0.0.0.0",
                            host_port=int(binding["HostPort"]),
                            container_port=int(container_port),
                            protocol=protocol or "tcp",
                        )
                    )
        return sorted(ports, key=lambda p: (p.host_port, p.host_ip))

    @property
    def config(self) -> Mapping[str, Any]:
        """``Config`` of ``docker inspect`` (command, healthcheck, labels, stop timeout), as the Engine holds it."""
        return dict(self._data.get("Config") or {})

    @property
    def host_config(self) -> Mapping[str, Any]:
        """``HostConfig`` of ``docker inspect``: ports, mounts, restart policy, ulimits, resource limits."""
        return dict(self._data.get("HostConfig") or {})

    @property
    def health_output(self) -> str:
        """The output of the last health probe, empty when there is none."""
        log = ((self._data.get("State") or {}).get("Health") or {}).get("Log") or []
        return str(log[-1].get("Output", "")).strip() if log else ""

    def last_log_lines(self, count: int = 20) -> list[str]:
        """The container's last ``count`` lines of stdout and stderr."""
        return self._runtime.logs(self.id, count)

    def reload(self) -> Container:
        """The container as the Engine sees it now."""
        fresh = self._runtime.inspect(self.id)
        if fresh is None:
            raise DockerError(f"container {self.name} disappeared", hint="run the command again")
        return fresh


@dataclass(frozen=True)
class ExecResult:
    """The exit code, captured stdout (unless streamed elsewhere) and stderr of a command in a container."""

    exit_code: int
    stdout: bytes
    stderr: str

    @property
    def last_error_line(self) -> str:
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {self.exit_code}"


@dataclass(frozen=True)
class Image:
    """A local image: its ID, the environment and ``VOLUME`` paths it declares, and the registry digests it was
    pulled as."""

    id: str
    environment: Mapping[str, str]
    repo_digests: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()


@dataclass(frozen=True)
class VolumeMountState:
    """A volume mounted in a container, as ``docker inspect`` shows it (``Mounts``)."""

    name: str
    destination: str
    read_only: bool

    @property
    def anonymous(self) -> bool:
        """Docker made it for an image's ``VOLUME`` that nothing mounted: its name is 64 hex digits."""
        return ANONYMOUS_VOLUME_RE.fullmatch(self.name) is not None


class _Labelled:
    """A network or volume: its labels say which Compose project it belongs to."""

    labels: Mapping[str, str]

    @property
    def project(self) -> str | None:
        return self.labels.get(PROJECT_LABEL)


@dataclass(frozen=True)
class Network(_Labelled):
    id: str
    name: str
    labels: Mapping[str, str]
    containers: int


@dataclass(frozen=True)
class Volume(_Labelled):
    name: str
    labels: Mapping[str, str]


# --------------------------------------------------------------------------- the runtime


TRANSIENT_PULL_FRAGMENTS = (
    "toomanyrequests",
    "too many requests",
    "429",
    "500 internal",
    "502",
    "503",
    "504",
    "timeout",
    "timed out",
    "connection reset",
    "tls handshake",
    "temporary failure",
    "eof",
)


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    operating_system: str
    kernel: str
    memory_bytes: int
    cpus: int

    @property
    def runs_in_a_vm(self) -> bool:
        """Docker Desktop, colima, OrbStack… run the Engine in a VM whose kernel settings differ from the host's."""
        name = self.operating_system.lower()
        return any(word in name for word in ("docker desktop", "boot2docker", "colima", "orbstack", "linuxkit"))


class DockerRuntime:
    """A connection to one Docker Engine."""

    def __init__(self, api: Any, endpoint: Endpoint):
        self._api = api
        self.endpoint = endpoint
        self.api_version = str(api.api_version)
        self.features = EngineFeatures(self.api_version)

    @classmethod
    def connect(cls, environ: Mapping[str, str] | None = None, *, timeout: float = 60.0) -> DockerRuntime:
        """Connect as the Docker CLI would, negotiating the API version with the Engine."""
        endpoint = resolve_endpoint(environ)
        try:
            api = docker.APIClient(
                base_url=endpoint.url, version="auto", timeout=int(timeout), tls=endpoint.tls or False, max_pool_size=32
            )
        except docker.errors.DockerException as error:
            if "Error while fetching server API version" in str(error) or isinstance(
                _root_cause(error), OSError | requests.ConnectionError
            ):
                raise unreachable(endpoint, error) from None
            raise DockerError(
                f"cannot use the Docker endpoint {endpoint.describe()}: {error}",
                hint="check DOCKER_HOST or the current docker context",
            ) from None
        return cls(api, endpoint)

    def close(self) -> None:
        self._api.close()

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except docker.errors.APIError as error:
            text = api_error_text(error)
            if error.status_code == 409:
                raise ConflictError(
                    f"{action}: {text}",
                    hint="another ticketctl or docker compose may be running; run the command again",
                ) from None
            lowered = text.lower()
            if "setting rlimit" in lowered:
                raise UlimitError(
                    f"{action}: the Docker Engine cannot apply the container's ulimits (its own limit is lower)",
                    hint="lower the ulimit, or raise dockerd's limit (LimitNOFILE in its service unit)",
                ) from None
            if "port is already allocated" in lowered or "address already in use" in lowered:
                raise PortAllocatedError(
                    f"{action}: {text}", hint="free that port or choose another in the ports.* settings"
                ) from None
            raise DockerError(
                f"{action}: {text}", hint="see the Engine's message; `docker info` shows the Engine's state"
            ) from None
        except (requests.ConnectionError, requests.Timeout, ConnectionError) as error:
            if isinstance(error, requests.ReadTimeout):
                raise DockerError(
                    f"{action}: the Docker Engine did not answer in time",
                    hint="check `docker info`; the Engine may be overloaded",
                ) from None
            raise unreachable(self.endpoint, error) from None
        except docker.errors.DockerException as error:
            raise DockerError(f"{action}: {error}", hint="check `docker info`") from None

    # ------------------------------------------------------------------ the Engine

    def info(self) -> EngineInfo:
        """The Engine's version, operating system and the memory and CPUs it can give containers."""
        with self._errors("read the Engine's information"):
            info = self._api.info()
            version = self._api.version()
        return EngineInfo(
            version=str(version.get("Version", "?")),
            api_version=self.api_version,
            operating_system=str(info.get("OperatingSystem", "?")),
            kernel=str(info.get("KernelVersion", "?")),
            memory_bytes=int(info.get("MemTotal", 0) or 0),
            cpus=int(info.get("NCPU", 0) or 0),
        )

    def run_once(self, image: str, command: list[str], *, timeout: float = 10.0) -> str:
        """Run a throwaway container (removed afterwards) and return what it printed."""
        with self._errors(f"run a throwaway {image} container"):
            created = self._api.create_container(image, command, labels={"io.ticketctl.throwaway": "true"})
            try:
                self._api.start(created["Id"])
                self._api.wait(created["Id"], timeout=int(timeout))
                output = self._api.logs(created["Id"], stdout=True, stderr=False)
            finally:
                self._api.remove_container(created["Id"], force=True)
        return output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)

    # ------------------------------------------------------------------ containers

    def inspect(self, container_id: str) -> Container | None:
        with self._errors(f"inspect container {container_id[:12]}"):
            try:
                return Container(self._api.inspect_container(container_id), self)
            except docker.errors.NotFound:
                return None

    def main_process_uid(self, container: Container) -> int | None:
        """The user id the container's main process runs as now (after any drop by its entrypoint)."""
        with self._errors(f"list the processes of {container.name}"):
            try:
                top = self._api.top(container.id, ps_args="-o pid,uid")
            except docker.errors.NotFound:
                return None
        titles = [title.upper() for title in top.get("Titles") or []]
        if "PID" not in titles or "UID" not in titles:
            return None
        pid_column, uid_column = titles.index("PID"), titles.index("UID")
        for process in top.get("Processes") or []:
            if int(process[pid_column]) == container.pid:
                return int(process[uid_column])
        return None

    def containers(self, project: str, *, include_oneoff: bool = False) -> list[Container]:
        """Every container of the Compose project (running or not), inspected."""
        with self._errors(f"list the containers of project {project}"):
            summaries = self._api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
        found = []
        for summary in summaries:
            container = self.inspect(summary["Id"])
            if container is not None and (include_oneoff or not container.oneoff):
                found.append(container)
        return sorted(found, key=lambda c: c.name)

    def published_ports(self) -> list[ContainerPort]:
        """Host ports held by running containers of any project."""
        with self._errors("list running containers"):
            summaries = self._api.containers(all=False)
        ports = []
        for summary in summaries:
            labels = summary.get("Labels") or {}
            name = (summary.get("Names") or ["/?"])[0].lstrip("/")
            for port in summary.get("Ports") or []:
                if port.get("PublicPort"):
                    ports.append(
                        ContainerPort(
                            container=name,
                            project=labels.get(PROJECT_LABEL),
                            service=labels.get(SERVICE_LABEL),
                            host_ip=port.get("IP") or "0.0.0.0",
                            host_port=int(port["PublicPort"]),
                            protocol=port.get("Type", "tcp"),
                        )
                    )
        return ports

    def create_container(self, name: str, body: Mapping[str, Any]) -> Container:
        with self._errors(f"create container {name}"):
            created = self._api.create_container_from_config(dict(body), name=name)
        container = self.inspect(created["Id"])
        if container is None:
            raise DockerError(f"container {name} disappeared right after it was created", hint="run the command again")
        return container

    def copy_file(self, container: Container, target: str, content: bytes, mode: int) -> None:
        """Place one file into a (not yet started) container; missing folders are created."""
        with self._errors(f"copy {target} into {container.name}"):
            self._api.put_archive(container.id, "/", _tar_of(target, content, mode))

    def start(self, container: Container) -> None:
        with self._errors(f"start {container.name}"):
            self._api.start(container.id)

    def stop(self, container: Container, timeout: float | None = None) -> None:
        seconds = container.stop_timeout if timeout is None else timeout
        with self._errors(f"stop {container.name}"):
            try:
                self._api.stop(container.id, timeout=int(10 if seconds is None else seconds))
            except docker.errors.NotFound:
                return

    def remove(self, container: Container, *, fresh_anonymous_volumes: bool = False) -> None:
        """Remove a container (forcibly, so a running one is killed); its named volumes stay.

        ``fresh_anonymous_volumes``: also the anonymous volumes Docker made for it (Docker's ``rm -v``), for a
        container created moments ago that nothing will mount again. A volume handed to it by name (one inherited
        from the container it replaced) is never among them: Docker keeps every volume that was named at create.
        """
        with self._errors(f"remove {container.name}"):
            try:
                self._api.remove_container(container.id, force=True, v=fresh_anonymous_volumes)
            except docker.errors.NotFound:
                return

    def read_file(self, container: Container, path: str) -> bytes | None:
        """One regular file of a container's file system (a GET of its archive); None when it is not there."""
        with self._errors(f"read {path} in {container.name}"):
            try:
                chunks, _ = self._api.get_archive(container.id, path)
                data = b"".join(chunks)
            except docker.errors.NotFound:
                return None
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = next((item for item in archive.getmembers() if item.isfile()), None)
            handle = archive.extractfile(member) if member is not None else None
            return handle.read() if handle is not None else None

    def logs(self, container_id: str, count: int = 20) -> list[str]:
        with self._errors(f"read the logs of {container_id[:12]}"):
            try:
                raw = self._api.logs(container_id, stdout=True, stderr=True, tail=count)
            except docker.errors.NotFound:
                return []
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return [line.rstrip() for line in text.splitlines() if line.strip()][-count:]

    def restart(self, container: Container, timeout: float | None = None) -> None:
        """Stop (with the container's own grace period unless ``timeout``) and start the same container."""
        seconds = container.stop_timeout if timeout is None else timeout
        with self._errors(f"restart {container.name}"):
            self._api.restart(container.id, timeout=int(10 if seconds is None else seconds))

    # ------------------------------------------------------------------ logs and exec

    def engine_time(self) -> str:
        """The Engine's clock now (RFC 3339): where following a log picks up after its history."""
        with self._errors("read the Engine's clock"):
            return str(self._api.info().get("SystemTime") or "")

    def log_lines(
        self,
        container_id: str,
        *,
        follow: bool = False,
        since: float | None = None,
        until: float | None = None,
        tail: int | None = None,
    ) -> Iterator[bytes]:
        """The container's log, stdout and stderr together, one ``<RFC3339Nano timestamp> <text>`` line at a time.

        A dropped connection, or the read timeout of a follow that saw nothing
        for a while, ends the iteration like the end of the log does: the
        caller follows again from its last timestamp.
        """
        with self._errors(f"read the logs of {container_id[:12]}"):
            try:
                stream = self._api.logs(
                    container_id,
                    stream=True,
                    timestamps=True,
                    follow=follow,
                    since=since,
                    until=until,
                    tail="all" if tail is None else tail,
                )
            except docker.errors.NotFound:
                return
        pending = b""
        try:
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from lines
        except (requests.RequestException, OSError, ValueError):
            pass  # the connection ended: a stopped container, a restart, or the Engine's read timeout
        finally:
            stream.close()
        if pending:
            yield pending

    def exec_start(
        self,
        container: Container,
        argv: list[str],
        *,
        environment: Mapping[str, str],
        tty: bool,
        stdin: bool,
        user: str | None = None,
        workdir: str | None = None,
    ) -> ExecSession:
        """Start ``argv`` in a running container; the environment goes through the API, never onto a command line."""
        action = f"run {argv[0]} in {container.name}"
        with self._errors(action):
            try:
                created = self._api.exec_create(
                    container.id,
                    argv,
                    stdin=stdin,
                    tty=tty,
                    environment=dict(environment) or None,
                    user=user or "",
                    workdir=workdir,
                )
            except docker.errors.APIError as error:
                if error.status_code == 409:  # the container stopped since it was inspected
                    raise DockerError(
                        f"{action}: {api_error_text(error)}", hint=f"start it with `ticketctl up {container.service}`"
                    ) from None
                raise
            raw = self._api.exec_start(created["Id"], tty=tty, socket=True)
        exec_id = str(created["Id"])
        return ExecSession(
            getattr(raw, "_sock", raw),
            tty=tty,
            resize=lambda rows, columns: self._exec_resize(exec_id, rows, columns),
            exit_code=lambda: self._exec_exit_code(exec_id),
        )

    def _exec_resize(self, exec_id: str, rows: int, columns: int) -> None:
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):
            self._api.exec_resize(exec_id, height=rows, width=columns)

    def _exec_exit_code(self, exec_id: str) -> int | None:
        with self._errors("read the exit code of a command in a container"):
            state = self._api.exec_inspect(exec_id)
        if state.get("Running") or state.get("ExitCode") is None:
            return None
        return int(state["ExitCode"])

    # ------------------------------------------------------------------ files and commands (snapshot, rotation)

    def exec(
        self,
        container: Container,
        command: list[str],
        *,
        environment: Mapping[str, str] | None = None,
        user: str = "",
        output: BinaryIO | None = None,
    ) -> ExecResult:
        """Run ``command`` in a running container; stdout goes to ``output`` (streamed) or is returned.

        Secrets go in ``environment``, never in ``command``: an exec's command line is
        visible in ``ps`` and in the Engine's events, its environment is not.
        """
        with self._errors(f"run {command[0]} in {container.name}"):
            created = self._api.exec_create(
                container.id, command, environment=dict(environment or {}), user=user, stdout=True, stderr=True
            )
            stream = self._api.exec_start(created["Id"], stream=True, demux=True)
            captured = io.BytesIO()
            errors = io.BytesIO()
            for out, err in stream:
                if out:
                    (output or captured).write(out)
                if err:
                    errors.write(err[: max(0, 65536 - errors.tell())])
            code = self._api.exec_inspect(created["Id"]).get("ExitCode")
        return ExecResult(
            int(code if code is not None else -1),
            captured.getvalue(),
            errors.getvalue().decode("utf-8", "replace"),
        )

    def archive_from(self, container: Container, path: str) -> Iterator[bytes]:
        """A tar stream of ``path`` in the container (running or stopped; volumes included)."""
        with self._errors(f"copy {path} out of {container.name}"):
            stream, _ = self._api.get_archive(container.id, path, chunk_size=4 << 20)
        with self._errors(f"copy {path} out of {container.name}"):
            yield from stream

    def archive_into(self, container: Container, path: str, data: BinaryIO) -> None:
        """Unpack the tar stream ``data`` into ``path`` of the container (running or stopped)."""
        with self._errors(f"copy into {path} of {container.name}"):
            self._api.put_archive(container.id, path, data)

    def run_helper(
        self,
        image: str,
        command: list[str],
        *,
        volumes: Mapping[str, str],
        project: str,
        files: Mapping[str, bytes] | None = None,
        timeout: float = 300.0,
    ) -> ExecResult:
        """Run a throwaway root container of ``image`` with the named volumes mounted; removed afterwards.

        ``files`` (path → content, mode 0600) are placed into it before it starts: a secret goes
        there rather than into its command line, and leaves with the container.
        """
        binds = [f"{volume}:{target}" for volume, target in volumes.items()]
        labels = {"io.ticketctl.throwaway": "true", HELPER_OF_LABEL: project}
        self.remove_helpers(project)
        with self._errors(f"run a helper container of {image}"):
            created = self._api.create_container(
                image,
                command[1:],
                entrypoint=command[:1],
                user="0:0",
                labels=labels,
                host_config=self._api.create_host_config(binds=binds),
            )
            try:
                for path, content in (files or {}).items():
                    self._api.put_archive(created["Id"], "/", _tar_of(path, content, 0o600))
                self._api.start(created["Id"])
                status = self._api.wait(created["Id"], timeout=int(timeout))
                logs = self._api.logs(created["Id"], stdout=False, stderr=True)
            finally:
                self._api.remove_container(created["Id"], force=True)
        text = logs.decode("utf-8", "replace") if isinstance(logs, bytes) else str(logs)
        return ExecResult(int(status.get("StatusCode", -1)), b"", text)

    def remove_helpers(self, project: str) -> int:
        """Remove the helper containers of ``project`` that a killed ticketctl left behind; how many there were.

        A helper lives only inside :meth:`run_helper`, which its callers run under the project's lock; so a
        helper found by a holder of the lock belongs to a process that died (``kill -9`` mid-restore) and
        would otherwise keep the project's volume in use: ``down -v`` and ``docker volume rm`` would fail.
        """
        with self._errors(f"list the helper containers of project {project}"):
            leftovers = self._api.containers(all=True, filters={"label": f"{HELPER_OF_LABEL}={project}"})
            for summary in leftovers:
                try:
                    self._api.remove_container(summary["Id"], force=True)
                except docker.errors.NotFound:
                    continue
        return len(leftovers)

    # ------------------------------------------------------------------ images

    def image_id(self, reference: str) -> str | None:
        """The local image ID of ``reference``, None when the image is not here."""
        image = self.image(reference)
        return image.id if image is not None else None

    def image(self, reference: str) -> Image | None:
        """The local image ``reference`` points to now, None when the image is not here."""
        with self._errors(f"inspect image {reference}"):
            try:
                data = self._api.inspect_image(reference)
            except docker.errors.NotFound:  # ImageNotFound is a NotFound
                return None
        config = data.get("Config") or {}
        return Image(
            id=str(data["Id"]),
            environment=dict(str(item).partition("=")[::2] for item in config.get("Env") or []),
            repo_digests=tuple(str(digest) for digest in data.get("RepoDigests") or ()),
            volumes=tuple(sorted(config.get("Volumes") or {})),
        )

    def pull(
        self,
        reference: str,
        on_event: EventSink = ignore,
        *,
        attempts: int = 4,
        first_delay: float = 1.0,
        sleep: Callable[[float], None] | None = None,
    ) -> str:
        """Pull ``reference`` with progress events, retrying rate limits and transient errors."""
        repository, tag = _split_reference(reference)
        delay = first_delay
        for attempt in range(1, attempts + 1):
            try:
                self._pull_once(reference, repository, tag, on_event)
            except PullFailedError as error:
                transient = any(fragment in error.reason.lower() for fragment in TRANSIENT_PULL_FRAGMENTS)
                if not transient or attempt == attempts:
                    raise
                on_event(PullEvent(reference, f"retrying in {delay:g}s ({error.reason})"))
                (sleep or time.sleep)(delay)
                delay *= 2
                continue
            image_id = self.image_id(reference)
            if image_id is None:
                raise PullFailedError(reference, "the Engine reported success but the image is not there")
            return image_id
        raise AssertionError("unreachable")

    def _pull_once(self, reference: str, repository: str, tag: str | None, on_event: EventSink) -> None:
        try:
            for message in self._api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in message or "errorDetail" in message:
                    detail = message.get("errorDetail") or {}
                    raise PullFailedError(reference, str(detail.get("message") or message.get("error")))
                progress = message.get("progressDetail") or {}
                on_event(
                    PullEvent(
                        image=reference,
                        status=str(message.get("status", "")),
                        layer=message.get("id"),
                        current=progress.get("current"),
                        total=progress.get("total"),
                    )
                )
        except docker.errors.APIError as error:
            status = error.status_code or 0
            reason = api_error_text(error)
            if status == 429 or status >= 500:
                reason = f"HTTP {status}: {reason}" if str(status) not in reason else reason
            raise PullFailedError(reference, reason) from None
        except (requests.ConnectionError, requests.Timeout) as error:
            raise PullFailedError(reference, f"connection error (timeout): {_root_cause(error)}") from None

    # ------------------------------------------------------------------ networks and volumes

    def network(self, name: str) -> Network | None:
        with self._errors(f"inspect network {name}"):
            try:
                data = self._api.inspect_network(name)
            except docker.errors.NotFound:
                return None
        return Network(data["Id"], data["Name"], data.get("Labels") or {}, len(data.get("Containers") or {}))

    def networks(self, project: str) -> list[Network]:
        with self._errors(f"list the networks of project {project}"):
            found = self._api.networks(filters={"label": f"{PROJECT_LABEL}={project}"})
        networks = [self.network(item["Id"]) for item in found]
        return [network for network in networks if network is not None]

    def create_network(self, name: str, labels: Mapping[str, str]) -> Network:
        with self._errors(f"create network {name}"):
            self._api.create_network(name, driver="bridge", labels=dict(labels), check_duplicate=True)
        network = self.network(name)
        if network is None:
            raise DockerError(f"network {name} disappeared right after it was created", hint="run the command again")
        return network

    def remove_network(self, network: Network) -> None:
        with self._errors(f"remove network {network.name}"):
            try:
                self._api.remove_network(network.id)
            except docker.errors.NotFound:
                return

    def volume(self, name: str) -> Volume | None:
        with self._errors(f"inspect volume {name}"):
            try:
                data = self._api.inspect_volume(name)
            except docker.errors.NotFound:
                return None
        return Volume(data["Name"], data.get("Labels") or {})

    def volumes(self, project: str) -> list[Volume]:
        with self._errors(f"list the volumes of project {project}"):
            found = self._api.volumes(filters={"label": f"{PROJECT_LABEL}={project}"}) or {}
        return sorted(
            (Volume(item["Name"], item.get("Labels") or {}) for item in found.get("Volumes") or []),
            key=lambda volume: volume.name,
        )

    def create_volume(self, name: str, labels: Mapping[str, str]) -> Volume:
        with self._errors(f"create volume {name}"):
            data = self._api.create_volume(name, driver="local", labels=dict(labels))
        return Volume(data["Name"], data.get("Labels") or {})

    def remove_volume(self, volume: Volume) -> None:
        with self._errors(f"remove volume {volume.name}"):
            try:
                self._api.remove_volume(volume.name)
            except docker.errors.NotFound:
                return


def _tar_of(path: str, content: bytes, mode: int) -> bytes:
    """A tar holding one file, for ``put_archive``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size = len(content)
        info.mode = mode
        info.mtime = int(time.time())
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _split_reference(reference: str) -> tuple[str, str | None]:
    """``repo[:tag][@digest]`` → (repository, tag or digest); a registry port is not a tag."""
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        return repository, digest
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = reference.rsplit(":", 1)
        return repository, tag
    return reference, "latest"
