"""The real test servers: their addresses, and scratch resources that each test creates and removes.

The servers come from ``scripts/test-services up``; ``. <(scripts/test-services env)``
exports where they are as ``TICKETCTL_TEST_*`` variables (ticketctl's own
settings loader ignores that prefix). The fixtures of ``tests/conftest.py`` hand
each test resources of its own and remove them afterwards: databases and users,
Redis keys under a prefix, indices under a prefix, Docker objects under a label.

A server that is missing or does not answer skips the tests that need it, with
the reason, outside CI, and fails them under CI (the one rule of
``tests/support/requirements.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

from tests.support.requirements import missing
from ticketctl.runtime.translate import HELPER_OF_LABEL

START_HINT = "start it with `scripts/test-services up` and load `. <(scripts/test-services env)`"


# Every name a test creates starts with this, so that a crashed run's leftovers
# are easy to find: databases, users, Redis keys, indices, containers.
NAME_PREFIX = "tkt"


def server_missing(server: str, detail: str) -> NoReturn:
    """Skip (or, under CI, fail) a test whose server is not there."""
    missing(f"{server} is not available ({detail})", START_HINT)


def required_env(server: str, name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        server_missing(server, f"{name} is not set")
    return value


def unique_name(kind: str = "") -> str:
    """A short name unique to this call: ``tkt_<kind>_<10 hex>`` (valid in SQL and index names)."""
    middle = f"{kind}_" if kind else ""
    return f"{NAME_PREFIX}_{middle}{secrets.token_hex(5)}"


@dataclass(frozen=True)
class MySQLServer:
    """The MySQL-protocol test server and its root login (over TCP)."""

    host: str
    port: int
    root_user: str
    root_password: str

    def connect(self, user: str | None = None, password: str | None = None, database: str | None = None) -> Any:
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=user or self.root_user,
            password=self.root_password if password is None else password,
            database=database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=5,
        )


@dataclass
class MySQLScratch:
    """Databases and users of one test, created on request and dropped afterwards."""

    server: MySQLServer
    databases: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)

    def database_name(self) -> str:
        """A unique database name, dropped after the test whether or not it was created."""
        name = unique_name("db")
        self.databases.append(name)
        return name

    def database(self) -> str:
        """Creates a database with a unique name and returns the name."""
        name = self.database_name()
        self.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return name

    def user(self, grant_database: str | None = None) -> tuple[str, str]:
        """Creates a user ``name@'%'`` (all rights on ``grant_database`` if given); returns name and password."""
        name, password = unique_name("u"), secrets.token_urlsafe(12)
        self.users.append(name)
        self.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'")
        if grant_database:
            self.execute(f"GRANT ALL PRIVILEGES ON `{grant_database}`.* TO '{name}'@'%'")
        return name, password

    def grant_drift(self, user: str) -> None:
        """The right ``migrate drift`` names in its fix for a user without root at hand: its shadow databases only."""
        from ticketctl.migrations.drift import shadow_grant

        self.execute(shadow_grant(user))

    def cleanup(self) -> None:
        for name in self.databases:
            self.execute(f"DROP DATABASE IF EXISTS `{name}`")
        for name in self.users:
            self.execute(f"DROP USER IF EXISTS '{name}'@'%'")

    def execute(self, sql: str) -> None:
        with self.server.connect() as connection, connection.cursor() as cursor:
            cursor.execute(sql)


@dataclass(frozen=True)
class RedisScratch:
    """A Redis database number and a key prefix of one test; its keys are deleted afterwards."""

    server_url: str
    db: int
    prefix: str

    @property
    def url(self) -> str:
        return f"{self.server_url.rstrip('/')}/{self.db}"

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5, decode_responses=True)

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def cleanup(self) -> int:
        client = self.client()
        try:
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=500))
            return int(client.delete(*keys)) if keys else 0
        finally:
            client.close()


# urllib would route 127.0.0.1 through a proxy from the environment; the servers are local.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class HTTPResult:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class SearchServer:
    """An Elasticsearch or OpenSearch test server, spoken to over plain HTTP."""

    name: str
    url: str

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30) -> HTTPResult:
        """Sends one request; returns status, headers and the decoded JSON body (errors included)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url.rstrip("/") + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _http.open(request, timeout=timeout) as response:
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, dict(error.headers), error.read()
        return HTTPResult(status, {k.lower(): v for k, v in headers.items()}, json.loads(raw) if raw else None)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """Sends one request and returns its JSON body; fails the test on a non-2xx status."""
        result = self.request(method, path, body)
        assert 200 <= result.status < 300, f"{self.name} {method} {path} -> {result.status}: {result.body}"
        return result.body


@dataclass(frozen=True)
class SearchScratch:
    """An index-name prefix of one test; indices, aliases and index templates under it are deleted afterwards."""

    server: SearchServer
    prefix: str

    def index(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def cleanup(self) -> None:
        # Names are listed and deleted one by one: the servers may run with
        # action.destructive_requires_name=true, which refuses wildcards.
        quoted = urllib.parse.quote(f"{self.prefix}*")
        listing = self.server.request("GET", f"/_cat/indices/{quoted}?format=json&h=index&expand_wildcards=all")
        for entry in listing.body or []:
            self.server.request("DELETE", f"/{urllib.parse.quote(entry['index'])}")
        templates = self.server.request("GET", f"/_index_template/{quoted}")
        for template in (templates.body or {}).get("index_templates", []):
            self.server.request("DELETE", f"/_index_template/{urllib.parse.quote(template['name'])}")


TEST_LABEL = "io.ticketctl.test"


@dataclass(frozen=True)
class DockerScratch:
    """A label and a Compose project name of one test; Docker objects carrying either are removed afterwards.

    Put ``labels`` on every container, network and volume the test creates
    directly; use ``project`` as the Compose project name (``-p``) of a stack it
    brings up, whose objects Compose labels ``com.docker.compose.project``.
    """

    client: Any
    test_id: str

    @property
    def labels(self) -> dict[str, str]:
        return {TEST_LABEL: self.test_id}

    @property
    def project(self) -> str:
        return self.test_id.replace("_", "-")

    def name(self, suffix: str) -> str:
        return f"{self.project}-{suffix}"

    def _filters(self) -> list[dict[str, str]]:
        return [
            {"label": f"{TEST_LABEL}={self.test_id}"},
            {"label": f"com.docker.compose.project={self.project}"},
            {"label": f"io.ticketctl.project={self.project}"},
            {"label": f"{HELPER_OF_LABEL}={self.project}"},
        ]

    def cleanup(self) -> None:
        import docker.errors

        for filters in self._filters():
            for container in self.client.containers.list(all=True, filters=filters):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True, v=True)
        for filters in self._filters():
            for network in self.client.networks.list(filters=filters):
                with contextlib.suppress(docker.errors.NotFound):
                    network.remove()
            for volume in self.client.volumes.list(filters=filters):
                with contextlib.suppress(docker.errors.NotFound):
                    volume.remove(force=True)


@dataclass(frozen=True)
class LocalImages:
    """The locally built images (``scripts/test-services images``) that stand in for the official ones."""

    mysql: str
    redis: str
    elasticsearch: str
    opensearch: str
    apps: str

    def environment(self) -> dict[str, str]:
        """The settings that make a stack run these images (``TICKETCTL_IMAGES__*``)."""
        return {
            f"TICKETCTL_IMAGES__{service.upper()}": image
            for service, image in (
                ("mysql", self.mysql),
                ("redis", self.redis),
                ("elasticsearch", self.elasticsearch),
                ("opensearch", self.opensearch),
                ("apps", self.apps),
            )
        }


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Polls ``condition`` until it returns something truthy; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as error:
            last_error = error
        time.sleep(interval)
    pytest.fail(f"{what} did not happen within {timeout:.0f}s (last error: {last_error})")
