"""An in-memory stand-in for ``docker.APIClient``.

The fake is just enough Engine for the core's unit tests.

It keeps containers, networks, volumes and images as the Engine's JSON,
records every call in ``calls`` (in order, across threads), and lets a test
script how each service behaves after ``start``: become healthy, turn
unhealthy, exit, or never become healthy.
"""

from __future__ import annotations

import io
import itertools
import tarfile
import threading
from typing import Any

import docker.errors
import requests

from ticketctl.runtime.docker import DockerRuntime, Endpoint

IMAGES = {
    "test/mysql:1": "sha256:" + "a" * 64,
    "test/redis:1": "sha256:" + "b" * 64,
    "test/search:1": "sha256:" + "c" * 64,
    "test/opensearch:1": "sha256:" + "e" * 64,
    "test/apps:1": "sha256:" + "d" * 64,
}


# A remote-looking endpoint: the core then trusts the Engine's port list and probes nothing locally.
FAKE_ENDPOINT = "tcp://fake-engine.invalid:2375"


def no_mysql_login(host: str, port: int, secret: str, password: str) -> None:
    """The login probe of ``up`` against the in-memory Engine: no MySQL answers behind it, so it cannot tell."""
    return None


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def not_found(what: str) -> docker.errors.NotFound:
    return docker.errors.NotFound(what, response=_response(404), explanation=f"No such object: {what}")


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    return docker.errors.APIError(explanation, response=_response(status), explanation=explanation)


class FakeAPI:
    """The subset of ``docker.APIClient`` that :class:`DockerRuntime` calls."""

    def __init__(self, api_version: str = "1.41", images: dict[str, str] | None = None):
        self.api_version = api_version
        self.images = dict(images or {})
        self.containers_by_id: dict[str, dict[str, Any]] = {}
        self.networks_by_name: dict[str, dict[str, Any]] = {}
        self.volumes_by_name: dict[str, dict[str, Any]] = {}
        self.image_env = ["PATH=/usr/local/bin:/usr/bin:/bin"]  # what every image declares
        self.image_volumes: dict[str, list[str]] = {}  # image reference → the VOLUME paths it declares
        self.behaviour: dict[str, str] = {}  # service → healthy | unhealthy | exit | never | slow
        self.healthy_after = 2  # inspections of a started container before it reports healthy
        self.health_gate: set[str] = set()  # no container turns healthy before these have started
        self.foreign_ports: list[dict[str, Any]] = []  # running containers of other projects
        self.calls: list[tuple[str, str]] = []
        self.archives: dict[str, bytes] = {}
        self.pull_script: list[Exception | None] = []
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.clock = "2026-11-24T11:00:04.500000000+01:00"  # the Engine's SystemTime (10:00:04.5 UTC)

    def record(self, action: str, name: str) -> None:
        with self.lock:
            self.calls.append((action, name))

    def actions(self, action: str) -> list[str]:
        return [name for kind, name in self.calls if kind == action]

    def close(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return {"SystemTime": self.clock}

    # ------------------------------------------------------------------ containers

    def _find(self, key: str) -> dict[str, Any]:
        with self.lock:
            if key in self.containers_by_id:
                return self.containers_by_id[key]
            for data in self.containers_by_id.values():
                if data["Name"] == "/" + key:
                    return data
        raise not_found(key)

    def inspect_container(self, key: str) -> dict[str, Any]:
        data = self._find(key)
        with self.lock:
            self._advance(data)
            return _copy(data)

    def _advance(self, data: dict[str, Any]) -> None:
        """Move a started container towards its scripted end state, one inspection at a time."""
        state = data["State"]
        if state["Status"] != "running":
            return
        service = data["Config"]["Labels"].get("com.docker.compose.service", "")
        behaviour = self.behaviour.get(service, "healthy")
        data["_inspections"] += 1
        if behaviour == "exit" and data["_inspections"] >= 2:
            state.update(Status="exited", ExitCode=1, Running=False)
            data["_logs"] = ["starting", "FATAL: cannot start, password=" + data["_secret"]]
            return
        if "Health" not in state:
            return
        if behaviour == "unhealthy" and data["_inspections"] >= 2:
            state["Health"] = {"Status": "unhealthy", "Log": [{"Output": "probe failed: connection refused"}]}
        elif behaviour in ("healthy", "slow") and data["_inspections"] >= self.healthy_after and self._gate_open():
            state["Health"] = {"Status": "healthy", "Log": [{"Output": "ok"}]}
            self.record("healthy", data["Name"].lstrip("/"))

    def _gate_open(self) -> bool:
        started = set(self.actions("start"))
        return self.health_gate <= started

    def containers(self, all: bool = False, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        label = (filters or {}).get("label")
        found = []
        with self.lock:
            for data in self.containers_by_id.values():
                if not all and data["State"]["Status"] != "running":
                    continue
                if label:
                    key, _, value = label.partition("=")
                    if data["Config"]["Labels"].get(key) != value:
                        continue
                ports = []
                if data["State"]["Status"] == "running":
                    for key_port, bindings in data["HostConfig"]["PortBindings"].items():
                        private, _, kind = key_port.partition("/")
                        for binding in bindings:
                            ports.append(
                                {
                                    "IP": binding["HostIp"],
                                    "PrivatePort": int(private),
                                    "PublicPort": int(binding["HostPort"]),
                                    "Type": kind,
                                }
                            )
                found.append(
                    {"Id": data["Id"], "Names": [data["Name"]], "Labels": data["Config"]["Labels"], "Ports": ports}
                )
        if not label:
            found += self.foreign_ports
        return found

    def create_container_from_config(self, config: dict[str, Any], name: str) -> dict[str, str]:
        with self.lock:
            if any(data["Name"] == "/" + name for data in self.containers_by_id.values()):
                raise api_error(409, f'Conflict. The container name "/{name}" is already in use')
            if config["Image"] not in self.images:
                raise not_found(config["Image"])
            container_id = f"{next(self._ids):064x}"
            environment = dict(item.split("=", 1) for item in config.get("Env", []))
            mounts = [
                {"Type": "volume", "Name": m["Source"], "Destination": m["Target"], "RW": not m.get("ReadOnly")}
                for m in config["HostConfig"].get("Mounts") or []
            ]
            for path in self.image_volumes.get(config["Image"], []):
                if path not in {m["Destination"] for m in mounts}:  # Docker makes an anonymous volume
                    anonymous = f"{next(self._ids) + 0xA000:064x}"
                    self.volumes_by_name[anonymous] = {"Name": anonymous, "Labels": {}}
                    mounts.append({"Type": "volume", "Name": anonymous, "Destination": path, "RW": True})
            self.containers_by_id[container_id] = {
                "Id": container_id,
                "Name": "/" + name,
                "Image": self.images[config["Image"]],
                "Config": {
                    "Image": config["Image"],
                    "Labels": dict(config.get("Labels") or {}),
                    "Healthcheck": config.get("Healthcheck"),
                    "StopTimeout": config.get("StopTimeout"),
                    "Env": [*config.get("Env", []), *self.image_env],
                    "Cmd": config.get("Cmd"),
                },
                "HostConfig": config["HostConfig"],
                "Mounts": mounts,
                "State": {"Status": "created", "ExitCode": 0, "StartedAt": "0001-01-01T00:00:00Z"},
                "RestartCount": 0,
                "NetworkSettings": {"Ports": {}},
                "_inspections": 0,
                "_logs": ["created"],
                "_secret": next(iter(environment.values()), ""),
                "_body": config,
            }
        self.record("create", name)
        return {"Id": container_id}

    def put_archive(self, container: str, path: str, data: bytes) -> bool:
        name = self._find(container)["Name"].lstrip("/")
        self.archives[name] = data
        self.record("copy", name)
        return True

    def start(self, container: str) -> None:
        data = self._find(container)
        with self.lock:
            state = data["State"]
            state.update(Status="running", Running=True, StartedAt="2026-11-24T10:00:00.123456789Z")
            data["_inspections"] = 0
            if data["Config"].get("Healthcheck"):
                state["Health"] = {"Status": "starting", "Log": []}
        self.record("start", data["Name"].lstrip("/"))

    def stop(self, container: str, timeout: int = 10) -> None:
        data = self._find(container)
        with self.lock:
            data["State"].update(Status="exited", Running=False)
        self.record("stop", data["Name"].lstrip("/"))

    def remove_container(self, container: str, force: bool = False, v: bool = False) -> None:
        data = self._find(container)
        with self.lock:
            del self.containers_by_id[data["Id"]]
            named = {m["Source"] for m in data["HostConfig"].get("Mounts") or []}
            for mount in data["Mounts"] if v else []:  # Docker's rm -v: only the volumes not named at create
                if mount["Name"] not in named:
                    self.volumes_by_name.pop(mount["Name"], None)
        self.record("remove", data["Name"].lstrip("/"))

    def restart(self, container: str, timeout: int = 10) -> None:
        data = self._find(container)
        with self.lock:
            data["State"].update(Status="running", Running=True, StartedAt="2026-11-24T10:05:00.123456789Z")
            data["_inspections"] = 0
            if data["Config"].get("Healthcheck"):
                data["State"]["Health"] = {"Status": "starting", "Log": []}
        self.record("restart", data["Name"].lstrip("/"))

    def logs(
        self,
        container: str,
        stdout: bool = True,
        stderr: bool = True,
        tail: int | str = 20,
        stream: bool = False,
        timestamps: bool = False,
        since: float | None = None,
        until: float | None = None,
        follow: bool = False,
    ) -> Any:
        """``_logs`` entries are text or ``(RFC 3339 time, text)``; text gets 10:00:00 plus its index in ns."""
        data = self._find(container)
        lines = []
        for index, entry in enumerate(data["_logs"]):
            stamp, text = entry if isinstance(entry, tuple) else (f"2026-11-24T10:00:00.{index:09d}Z", entry)
            lines.append(f"{stamp} {text}" if timestamps else text)
        if tail != "all":
            lines = lines[-int(tail) :] if int(tail) else []
        payload = [(line + "\n").encode() for line in lines]
        return _Stream(payload) if stream else b"".join(payload)

    # ------------------------------------------------------------------ images

    def get_archive(self, container: str, path: str) -> tuple[list[bytes], dict[str, Any]]:
        """The files ``put_archive`` placed, as the Engine returns one: a tar stream of the path."""
        raw = self.archives.get(self._find(container)["Name"].lstrip("/"))
        if raw is None:
            raise not_found(path)
        with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
            for member in archive.getmembers():
                if "/" + member.name == path:
                    out = io.BytesIO()
                    with tarfile.open(fileobj=out, mode="w") as single:
                        single.addfile(member, archive.extractfile(member))
                    return [out.getvalue()], {}
        raise not_found(path)

    def inspect_image(self, reference: str) -> dict[str, Any]:
        if reference not in self.images:
            raise docker.errors.ImageNotFound(reference, response=_response(404), explanation="No such image")
        volumes = {path: {} for path in self.image_volumes.get(reference, [])}
        config = {"Env": list(self.image_env), "Volumes": volumes}
        return {"Id": self.images[reference], "Config": config, "RepoDigests": []}

    def pull(self, repository: str, tag: str | None = None, stream: bool = False, decode: bool = False) -> Any:
        reference = f"{repository}:{tag}" if tag else repository
        self.record("pull", reference)
        outcome = self.pull_script.pop(0) if self.pull_script else None
        if isinstance(outcome, Exception):
            raise outcome
        self.images[reference] = "sha256:" + f"{len(self.images) + 100:064x}"
        return iter(
            [
                {"status": f"Pulling from {repository}", "id": tag},
                {"status": "Downloading", "id": "layer1", "progressDetail": {"current": 5, "total": 10}},
                {"status": "Download complete", "id": "layer1"},
            ]
        )

    # ------------------------------------------------------------------ networks and volumes

    def inspect_network(self, name: str) -> dict[str, Any]:
        with self.lock:
            for data in self.networks_by_name.values():
                if name in (data["Name"], data["Id"]):
                    attached = {
                        c["Id"]: {}
                        for c in self.containers_by_id.values()
                        if c["HostConfig"].get("NetworkMode") == data["Name"] and c["State"]["Status"] == "running"
                    }
                    return {**data, "Containers": attached}
        raise not_found(name)

    def networks(self, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        key, _, value = (filters or {}).get("label", "=").partition("=")
        return [dict(d) for d in self.networks_by_name.values() if d["Labels"].get(key) == value]

    def create_network(self, name: str, driver: str, labels: dict[str, str], check_duplicate: bool) -> dict[str, str]:
        with self.lock:
            if name in self.networks_by_name:
                raise api_error(409, f"network with name {name} already exists")
            self.networks_by_name[name] = {"Id": f"net-{name}", "Name": name, "Labels": labels}
        self.record("create-network", name)
        return {"Id": f"net-{name}"}

    def remove_network(self, network_id: str) -> None:
        with self.lock:
            name = next(n for n, d in self.networks_by_name.items() if d["Id"] == network_id)
            del self.networks_by_name[name]
        self.record("remove-network", name)

    def inspect_volume(self, name: str) -> dict[str, Any]:
        if name not in self.volumes_by_name:
            raise not_found(name)
        return dict(self.volumes_by_name[name])

    def volumes(self, filters: dict[str, str] | None = None) -> dict[str, Any]:
        key, _, value = (filters or {}).get("label", "=").partition("=")
        return {"Volumes": [dict(d) for d in self.volumes_by_name.values() if d["Labels"].get(key) == value]}

    def create_volume(self, name: str, driver: str, labels: dict[str, str]) -> dict[str, Any]:
        self.volumes_by_name[name] = {"Name": name, "Labels": labels}
        self.record("create-volume", name)
        return dict(self.volumes_by_name[name])

    def remove_volume(self, name: str) -> None:
        del self.volumes_by_name[name]
        self.record("remove-volume", name)


class _Stream:
    """What ``APIClient.logs(stream=True)`` returns: an iterator of chunks that can be closed."""

    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Any:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    import copy

    return {key: copy.deepcopy(value) for key, value in data.items() if not key.startswith("_")}


def fake_runtime(api: FakeAPI, url: str = FAKE_ENDPOINT) -> DockerRuntime:
    return DockerRuntime(api, Endpoint(url, "default"))
