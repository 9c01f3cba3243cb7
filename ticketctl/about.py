"""``ticketctl version``: this ticketctl, its Python and libraries, and the versions of the servers it reaches.

The client side comes from package metadata (nothing is imported, nothing is
asked). The servers (the Docker Engine, MySQL, Redis, the search engine) are
asked at once, each with a short timeout; one that does not answer is reported
with the reason instead of a version, so ``version`` always answers.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ticketctl import __version__
from ticketctl.compose.hash import COMPOSE_VERSION
from ticketctl.config.masking import scrub_known
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings
from ticketctl.errors import TicketctlError
from ticketctl.parallel import fan_out

LIBRARIES = ("typer", "rich", "docker", "PyMySQL", "redis", "elasticsearch", "opensearch-py", "Jinja2", "PyYAML")
SERVER_TIMEOUT = 3.0


@dataclass(frozen=True)
class Component:
    """A part and its version; ``version`` is None when it could not be told (``detail`` says why)."""

    name: str
    version: str | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "detail": self.detail or None}


@dataclass(frozen=True)
class Versions:
    ticketctl: str
    python: str
    platform: str
    compose: str  # the Compose release whose config hash ticketctl writes
    libraries: tuple[Component, ...]
    servers: tuple[Component, ...] | None  # None: not asked

    def as_dict(self) -> dict[str, Any]:
        return {
            "ticketctl": self.ticketctl,
            "python": self.python,
            "platform": self.platform,
            "compose": self.compose,
            "libraries": {library.name: library.version for library in self.libraries},
            "servers": None if self.servers is None else [server.as_dict() for server in self.servers],
        }


def versions(settings: Settings | None, secrets: Secrets | None, *, timeout: float = SERVER_TIMEOUT) -> Versions:
    """Every version; the servers' only when ``settings`` are given (asked in parallel, ``timeout`` each)."""
    servers = None if settings is None else tuple(server_versions(settings, secrets or Secrets({}), timeout=timeout))
    return Versions(
        ticketctl=__version__,
        python=f"{platform.python_version()} ({platform.python_implementation()}, {sys.executable})",
        platform=platform.platform(),
        compose=COMPOSE_VERSION,
        libraries=tuple(_library(name) for name in LIBRARIES),
        servers=servers,
    )


def _library(name: str) -> Component:
    try:
        return Component(name, version(name))
    except PackageNotFoundError:
        return Component(name, None, "not installed")


def server_versions(settings: Settings, secrets: Secrets, *, timeout: float) -> list[Component]:
    """The Docker Engine (when docker.enabled), MySQL, Redis and the search engine, asked at once."""
    probes: list[tuple[str, Callable[[], tuple[str, str]]]] = [
        ("MySQL", lambda: _mysql(settings, secrets, timeout)),
        ("Redis", lambda: _redis(settings, secrets, timeout)),
        ("search", lambda: _search(settings, secrets, timeout)),
    ]
    if settings.docker_enabled:
        probes.insert(0, ("Docker Engine", lambda: _docker(timeout)))
    return fan_out(lambda item: _component(*item), probes, name="version")


def _component(name: str, probe: Callable[[], tuple[str, str]]) -> Component:
    try:
        found, where = probe()
    except TicketctlError as error:
        return Component(name, None, scrub_known(error.message))
    except Exception as error:  # a probe must never stop the report; its reason is the answer
        return Component(name, None, scrub_known(f"{type(error).__name__}: {error}"))
    return Component(name, found, where)


def _docker(timeout: float) -> tuple[str, str]:
    from ticketctl.runtime.docker import DockerRuntime

    runtime = DockerRuntime.connect(timeout=timeout)
    try:
        info = runtime.info()
    finally:
        runtime.close()
    return info.version, f"API {info.api_version} at {runtime.endpoint.describe()}"


def _mysql(settings: Settings, secrets: Secrets, timeout: float) -> tuple[str, str]:
    from ticketctl.clients.mysql import app_credentials, connect

    mysql = dataclasses.replace(settings.mysql, connect_timeout=timeout)
    database = mysql.databases[0]
    with connect(mysql, app_credentials(database, secrets)) as session:
        return session.server.label, f"at {mysql.host}:{mysql.port}"


def _redis(settings: Settings, secrets: Secrets, timeout: float) -> tuple[str, str]:
    from ticketctl.clients.redis import connect, translate

    try:
        client = connect(settings, secrets, timeout=timeout)
        found = str(client.info("server").get("redis_version", "?"))
        client.close()
    except Exception as error:
        raise translate(error, settings, secrets) from error
    return found, f"at {settings.redis.host}:{settings.redis.port}"


def _search(settings: Settings, secrets: Secrets, timeout: float) -> tuple[str, str]:
    from ticketctl.clients.search import detect

    quick = dataclasses.replace(settings, search=dataclasses.replace(settings.search, timeout=timeout))
    info = detect(quick, secrets)
    return info.label, f"at {info.url}"
