"""Markers by folder, and the fixtures of the real servers every integration and e2e test uses.

The servers and the scratch resources behind these fixtures are in
``tests/support/servers.py``.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.golden import refusal_under_ci
from tests.support.kube_cluster import KubeCluster, KubeNamespace
from tests.support.requirements import (  # noqa: F401  (hooks: under CI a skip of any origin fails the run)
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
from tests.support.servers import (
    DockerScratch,
    LocalImages,
    MySQLScratch,
    MySQLServer,
    RedisScratch,
    SearchScratch,
    SearchServer,
    required_env,
    server_missing,
    unique_name,
    wait_until,
)

TESTS_DIR = Path(__file__).resolve().parent
FOLDER_MARKERS = ("unit", "integration", "e2e", "reliability")


def pytest_configure(config: pytest.Config) -> None:
    """Refuse, before any test runs, a CI run asked to rewrite golden files (tests/support/golden.py)."""
    refusal = refusal_under_ci()
    if refusal:
        raise pytest.UsageError(refusal)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its top folder: tests/unit -> unit, tests/e2e -> e2e, ..."""
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(getattr(pytest.mark, folder))


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


# Database 0 is left to people; tests take 1..N-1 in turn. Isolation comes from
# the key prefix, so two tests that share a number never see each other's keys.
_redis_db_numbers = itertools.count()


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


@pytest.fixture(scope="session")
def wait() -> Callable[..., Any]:
    """``wait(condition, timeout, what)``: poll until truthy or fail the test."""
    return wait_until
