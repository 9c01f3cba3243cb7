"""Where the Docker Engine is, as the Docker CLI chooses it, and what API version it speaks.

Kept apart from :mod:`ticketctl.runtime.docker` so that commands that only need
to know the Engine's API version (``render``, which writes the Compose file for
the Engine at hand) do not pay for importing the Docker SDK: on the usual local
socket, :func:`engine_api_version` asks ``GET /version`` itself in a few
milliseconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ticketctl.errors import DockerError

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")


# --------------------------------------------------------------------------- the endpoint


@dataclass(frozen=True)
class Endpoint:
    """Where the Engine is: its URL, where that choice came from, and TLS settings."""

    url: str
    source: str  # "DOCKER_HOST", "context NAME" or "default"
    tls: Any = None

    @property
    def is_local(self) -> bool:
        """True when published ports are ports of this machine (so they can be probed here)."""
        parsed = urlparse(self.url)
        return parsed.scheme in ("unix", "npipe", "http+unix") or (
            parsed.scheme in ("tcp", "http", "https") and (parsed.hostname or "") in LOCAL_HOSTS
        )

    def describe(self) -> str:
        return f"{self.url} ({self.source})"


def docker_config_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def resolve_endpoint(environ: Mapping[str, str] | None = None) -> Endpoint:
    """The Engine endpoint as the Docker CLI would choose it."""
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_HOST"):
        from ticketctl.runtime.docker import tls_from_environment  # the SDK reads DOCKER_TLS_VERIFY, _CERT_PATH

        return Endpoint(environ["DOCKER_HOST"], "DOCKER_HOST", tls_from_environment(environ))
    config_dir = docker_config_dir(environ)
    name = environ.get("DOCKER_CONTEXT") or _current_context(config_dir)
    if name and name != "default":
        return _context_endpoint(config_dir, name)
    return Endpoint(DEFAULT_SOCKET, "default")


def _current_context(config_dir: Path) -> str | None:
    try:
        data = json.loads((config_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("currentContext") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _context_endpoint(config_dir: Path, name: str) -> Endpoint:
    """The docker endpoint of a named context from ``contexts/meta/<sha256(name)>/meta.json``."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    meta_file = config_dir / "contexts" / "meta" / digest / "meta.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        endpoint = meta["Endpoints"]["docker"]
        host = str(endpoint["Host"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DockerError(
            f"Docker context {name!r} not found or unreadable ({meta_file})",
            hint="switch to an existing context with `docker context use default`, or set DOCKER_HOST",
        ) from None
    tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
    tls = None
    if tls_dir.is_dir():
        from ticketctl.runtime.docker import tls_config

        cert = (str(tls_dir / "cert.pem"), str(tls_dir / "key.pem")) if (tls_dir / "cert.pem").is_file() else None
        ca = str(tls_dir / "ca.pem") if (tls_dir / "ca.pem").is_file() else None
        tls = tls_config(cert, ca, verify=not endpoint.get("SkipTLSVerify", False) and ca)
    return Endpoint(host, f"context {name}", tls)


def _get_over_unix_socket(path: str, target: str, timeout: float) -> bytes:
    """The body of ``GET target`` on the Engine's unix socket (HTTP/1.0: the Engine closes when done).

    A raw request, because http.client alone costs more to import than the whole render it serves.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(path)
        connection.sendall(f"GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode("ascii"))
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/") or head.split(b" ", 2)[1:2] != [b"200"]:
        raise ValueError("the Engine did not answer 200")
    return body


def engine_api_version(environ: Mapping[str, str] | None = None, *, timeout: float = 1.0) -> str | None:
    """The highest API version the Engine at hand speaks, or None when none answers within ``timeout``."""
    try:
        endpoint = resolve_endpoint(environ)
    except DockerError:
        return None
    parsed = urlparse(endpoint.url)
    if parsed.scheme == "unix":
        try:
            data = json.loads(_get_over_unix_socket(parsed.path, "/version", timeout))
        except (OSError, ValueError):
            return None
        version = data.get("ApiVersion") if isinstance(data, dict) else None
        return str(version) if version else None
    from ticketctl.runtime.docker import DockerRuntime

    with contextlib.suppress(DockerError):
        runtime = DockerRuntime.connect(environ, timeout=timeout)
        runtime.close()
        return runtime.api_version
    return None
