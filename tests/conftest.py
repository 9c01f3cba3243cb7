"""Markers by folder, and the real servers every integration and e2e test uses.

The servers come from ``scripts/test-services up``; ``. <(scripts/test-services env)``
exports where they are as ``TICKETCTL_TEST_*`` variables (ticketctl's own
settings loader ignores that prefix). Each fixture hands a test resources of its
own and removes them afterwards: databases and users, Redis keys under a prefix,
indices under a prefix, Docker objects under a label.

A server that is missing or does not answer skips the tests that need it, with
the reason, outside CI. With ``CI=true`` it fails them instead: CI must never
pass by skipping.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.support.kubernetes import KubeCluster, KubeNamespace

TESTS_DIR = Path(__file__).resolve().parent
FOLDER_MARKERS = ("unit", "integration", "e2e", "reliability")
START_HINT = "start it with `scripts/test-services up` and load `. <(scripts/test-services env)`"

# Every name a test creates starts with this, so that a crashed run's leftovers
# are easy to find: databases, users, Redis keys, indices, containers.
NAME_PREFIX = "tkt"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its top folder: tests/unit -> unit, tests/e2e -> e2e, ..."""
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(getattr(pytest.mark, folder))


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def server_missing(server: str, detail: str) -> NoReturn:
    """Skip (or, with CI=true, fail) a test whose server is not there."""
    message = f"{server} is not available ({detail}); {START_HINT}"
    if in_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def required_env(server: str, name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        server_missing(server, f"{name} is not set")
    return value


def unique_name(kind: str = "") -> str:
    """A short name unique to this call: ``tkt_<kind>_<10 hex>`` (valid in SQL and index names)."""
    middle = f"{kind}_" if kind else ""
    return f"{NAME_PREFIX}_{middle}{secrets.token_hex(5)}"


# ---------------------------------------------------------------- MariaDB


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
        self._execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return name

    def user(self, grant_database: str | None = None) -> tuple[str, str]:
        """Creates a user ``name@'%'`` (all rights on ``grant_database`` if given); returns name and password."""
        name, password = unique_name("u"), secrets.token_urlsafe(12)
        self.users.append(name)
        self._execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'")
        if grant_database:
            self._execute(f"GRANT ALL PRIVILEGES ON `{grant_database}`.* TO '{name}'@'%'")
        return name, password

    def cleanup(self) -> None:
        for name in self.databases:
            self._execute(f"DROP DATABASE IF EXISTS `{name}`")
        for name in self.users:
            self._execute(f"DROP USER IF EXISTS '{name}'@'%'")

    def _execute(self, sql: str) -> None:
        with self.server.connect() as connection, connection.cursor() as cursor:
            cursor.execute(sql)


@pytest.fixture(scope="session")
def mysql_server() -> MySQLServer:
    server = "MariaDB (MySQL protocol)"
    info = MySQLServer(
        host=required_env(server, "TICKETCTL_TEST_MYSQL_HOST"),
        port=int(required_env(server, "TICKETCTL_TEST_MYSQL_PORT")),
        root_user=required_env(server, "TICKETCTL_TEST_MYSQL_ROOT_USER"),
        root_password=required_env(server, "TICKETCTL_TEST_MYSQL_ROOT_PASSWORD"),
    )
    try:
        info.connect().close()
    except Exception as error:
        server_missing(server, f"{info.host}:{info.port}: {error}")
    return info


@pytest.fixture
def mysql_scratch(mysql_server: MySQLServer) -> Iterator[MySQLScratch]:
    scratch = MySQLScratch(mysql_server)
    yield scratch
    scratch.cleanup()


# ---------------------------------------------------------------- Redis

# Database 0 is left to people; tests take 1..N-1 in turn. Isolation comes from
# the key prefix, so two tests that share a number never see each other's keys.
_redis_db_numbers = itertools.count()


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


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    url = required_env("Redis", "TICKETCTL_TEST_REDIS_URL")
    try:
        client = redis.Redis.from_url(url, socket_timeout=5)
        client.ping()
        client.close()
    except Exception as error:
        server_missing("Redis", f"{url}: {error}")
    return url


@pytest.fixture(scope="session")
def redis_database_count(redis_url: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5, decode_responses=True)
    try:
        return int(client.config_get("databases")["databases"])
    finally:
        client.close()


@pytest.fixture
def redis_scratch(redis_url: str, redis_database_count: int) -> Iterator[RedisScratch]:
    db = 1 + next(_redis_db_numbers) % max(redis_database_count - 1, 1)
    scratch = RedisScratch(redis_url, db, f"{unique_name()}:")
    yield scratch
    scratch.cleanup()


# ---------------------------------------------------------------- search engines

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


def _search_server(name: str, variable: str) -> SearchServer:
    server = SearchServer(name, required_env(name, variable))
    try:
        health = server.request("GET", "/_cluster/health?wait_for_status=yellow&timeout=10s", timeout=15)
    except (OSError, ValueError) as error:
        server_missing(name, f"{server.url}: {error}")
    if health.status != 200 or health.body.get("status") not in {"yellow", "green"}:
        server_missing(name, f"{server.url}: cluster health {health.status} {health.body}")
    return server


@pytest.fixture(scope="session")
def elasticsearch_server() -> SearchServer:
    return _search_server("Elasticsearch", "TICKETCTL_TEST_ELASTICSEARCH_URL")


@pytest.fixture(scope="session")
def opensearch_server() -> SearchServer:
    return _search_server("OpenSearch", "TICKETCTL_TEST_OPENSEARCH_URL")


@pytest.fixture
def elasticsearch_scratch(elasticsearch_server: SearchServer) -> Iterator[SearchScratch]:
    scratch = SearchScratch(elasticsearch_server, f"{unique_name()}-")
    yield scratch
    scratch.cleanup()


@pytest.fixture
def opensearch_scratch(opensearch_server: SearchServer) -> Iterator[SearchScratch]:
    scratch = SearchScratch(opensearch_server, f"{unique_name()}-")
    yield scratch
    scratch.cleanup()


# ---------------------------------------------------------------- Docker

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


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as error:
        server_missing("Docker Engine", f"{os.environ.get('DOCKER_HOST', 'default socket')}: {error}")
    yield client
    client.close()


@pytest.fixture
def docker_scratch(docker_client: Any) -> Iterator[DockerScratch]:
    scratch = DockerScratch(docker_client, unique_name())
    yield scratch
    scratch.cleanup()


@dataclass(frozen=True)
class LocalImages:
    """The locally built images (``scripts/test-services images``) that stand in for the official ones."""

    mysql: str
    redis: str
    elasticsearch: str
    opensearch: str
    apps: str


@pytest.fixture(scope="session")
def local_images(docker_client: Any) -> LocalImages:
    import docker.errors

    names = {}
    for key in ("mysql", "redis", "elasticsearch", "opensearch", "apps"):
        reference = required_env("local images", f"TICKETCTL_TEST_IMAGE_{key.upper()}")
        try:
            docker_client.images.get(reference)
        except docker.errors.ImageNotFound:
            server_missing("local images", f"image {reference} is not built")
        names[key] = reference
    return LocalImages(**names)


# ---------------------------------------------------------------- Kubernetes API server


@pytest.fixture(scope="session")
def kube_cluster() -> KubeCluster:
    """The test API server (``scripts/test-services kubernetes``), checked to answer once."""
    server = "Kubernetes API server"
    cluster = KubeCluster(
        kubeconfig=Path(required_env(server, "TICKETCTL_TEST_KUBECONFIG")),
        kubectl_path=Path(required_env(server, "TICKETCTL_TEST_KUBECTL")),
    )
    if not cluster.kubectl_path.is_file():
        server_missing(server, f"{cluster.kubectl_path} is not built")
    try:
        answer = cluster.kubectl("get", "--raw", "/readyz", check=False, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as error:
        server_missing(server, str(error))
    if answer.returncode != 0 or answer.stdout.strip() != "ok":
        lines = (answer.stderr or answer.stdout or "no answer").strip().splitlines()
        server_missing(server, f"{cluster.kubeconfig}: {lines[-1] if lines else 'no answer'}")
    return cluster


@pytest.fixture
def kube_namespace(kube_cluster: KubeCluster) -> Iterator[KubeNamespace]:
    """A fresh namespace ``tkt-<hex>`` (no labels), deleted with its contents afterwards."""
    namespace = kube_cluster.create_namespace()
    yield namespace
    namespace.delete()


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


@pytest.fixture(scope="session")
def wait() -> Callable[..., Any]:
    """``wait(condition, timeout, what)``: poll until truthy or fail the test."""
    return wait_until
