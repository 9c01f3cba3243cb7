"""Fixtures of the remote-endpoint tests: managed services played by real servers, and ticketctl as a process.

The session starts one private MariaDB (TLS required), one private Redis (TLS
only, with a password) and one nginx (https and basic auth in front of the
shared OpenSearch); see ``remote_servers.py`` for which plays which managed
service. A missing program (mariadbd, redis-server, nginx: ``scripts/test-services
up`` installs them) skips these tests outside CI and fails them under CI, like a
missing shared server (``tests/support/requirements.py``).
"""

from __future__ import annotations

import secrets
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.remote import DATABASE_KEYS, ManagedAccounts
from tests.support.remote_servers import (
    NginxFront,
    PrivateMariaDB,
    PrivateRedis,
    ServerStartError,
    free_port,
    server_directory,
)
from tests.support.servers import SearchServer, unique_name
from tests.support.tls import Pki
from ticketctl.migrations.drift import shadow_grant

LOCK_INDEX = ".ticketctl-locks"


# ---------------------------------------------------------------- certificates and private servers


@pytest.fixture(scope="session")
def pki() -> Iterator[Pki]:
    directory = server_directory("pki")
    try:
        yield Pki.create(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _mariadb(pki: Pki, cert: Path, key: Path) -> Iterator[PrivateMariaDB]:
    directory = server_directory("mariadb")
    own = pki.copy_to(directory / "tls")
    server = PrivateMariaDB(directory, free_port(), own.directory / cert.name, own.directory / key.name, own.ca)
    try:
        server.start()
    except ServerStartError as error:
        server.stop()
        pytest.fail(f"the private MariaDB did not start: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tls_mariadb(pki: Pki) -> Iterator[PrivateMariaDB]:
    """The managed MySQL: TLS required, a certificate for 127.0.0.1 and localhost."""
    yield from _mariadb(pki, pki.server_cert, pki.server_key)


@pytest.fixture(scope="session")
def mismatched_mariadb(pki: Pki) -> Iterator[PrivateMariaDB]:
    """A managed MySQL whose certificate names db.example.internal only, reached as 127.0.0.1."""
    for server in _mariadb(pki, pki.wrong_host_cert, pki.wrong_host_key):
        # Without any account for '%' the server answers "host not allowed" before TLS starts.
        server.create_user(unique_name("u"), secrets.token_urlsafe(18))
        yield server


def _redis(pki: Pki, cert: Path, key: Path) -> Iterator[PrivateRedis]:
    directory = server_directory("redis")
    own = pki.copy_to(directory / "tls")
    server = PrivateRedis(
        directory, free_port(), own.directory / cert.name, own.directory / key.name, own.ca, secrets.token_urlsafe(18)
    )
    try:
        server.start()
    except ServerStartError as error:
        server.stop()
        pytest.fail(f"the private Redis did not start: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tls_redis(pki: Pki) -> Iterator[PrivateRedis]:
    """The managed Redis: TLS only, AUTH with a password."""
    yield from _redis(pki, pki.server_cert, pki.server_key)


@pytest.fixture(scope="session")
def mismatched_redis(pki: Pki) -> Iterator[PrivateRedis]:
    """A managed Redis whose certificate names db.example.internal only, reached as 127.0.0.1."""
    yield from _redis(pki, pki.wrong_host_cert, pki.wrong_host_key)


def _front(pki: Pki, upstream: SearchServer) -> Iterator[NginxFront]:
    directory = server_directory("nginx")
    own = pki.copy_to(directory / "tls")
    front = NginxFront(
        directory,
        free_port(),
        own.server_cert,
        own.server_key,
        own.ca,
        upstream=upstream.url,
        user="ticketctl",
        password=secrets.token_urlsafe(18),
        other_host=(free_port(), own.wrong_host_cert, own.wrong_host_key),
    )
    try:
        front.start()
    except ServerStartError as error:
        front.stop()
        pytest.fail(f"nginx did not start: {error}")
    try:
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def search_front(pki: Pki, opensearch_server: SearchServer) -> Iterator[NginxFront]:
    """The hosted OpenSearch: nginx with https and basic auth in front of the shared OpenSearch."""
    yield from _front(pki, opensearch_server)


@pytest.fixture(scope="session")
def elasticsearch_front(pki: Pki, elasticsearch_server: SearchServer) -> Iterator[NginxFront]:
    """A hosted Elasticsearch: nginx with https and basic auth in front of the shared Elasticsearch 8.19.21."""
    yield from _front(pki, elasticsearch_server)


@pytest.fixture(scope="session")
def lock_index_cleanup(opensearch_server: SearchServer) -> Iterator[None]:
    """``index create`` makes the hidden lock index; delete it at the end if this session made it and it is empty."""
    existed = opensearch_server.request("GET", f"/{LOCK_INDEX}").status == 200
    yield
    if not existed:
        count = opensearch_server.request("GET", f"/{LOCK_INDEX}/_count")
        if count.status == 200 and int(count.body.get("count", 1)) == 0:
            opensearch_server.request("DELETE", f"/{urllib.parse.quote(LOCK_INDEX)}")


# ---------------------------------------------------------------- accounts of one test


@pytest.fixture
def managed_accounts(tls_mariadb: PrivateMariaDB) -> Iterator[ManagedAccounts]:
    """As a DBA sets up a managed MySQL: one user per database, ``REQUIRE SSL``, rights on its database only."""
    accounts = ManagedAccounts({}, {}, {})
    for key in DATABASE_KEYS:
        accounts.names[key] = unique_name(key[:3])
        accounts.users[key] = unique_name("u")
        accounts.passwords[key] = secrets.token_urlsafe(18)
        tls_mariadb.create_user(
            accounts.users[key],
            accounts.passwords[key],
            grant=f"GRANT ALL PRIVILEGES ON `{accounts.names[key]}`.* TO {{user}}",
        )
        tls_mariadb.admin(shadow_grant(accounts.users[key]))  # what drift's fix asks of a DBA
    try:
        yield accounts
    finally:
        for key in DATABASE_KEYS:
            tls_mariadb.admin(f"DROP DATABASE IF EXISTS `{accounts.names[key]}`")
            tls_mariadb.admin(f"DROP USER IF EXISTS '{accounts.users[key]}'@'%'")
