"""Fixtures of the data tests: migrated databases of one test, and an index of its own on each engine.

``search`` runs a test on OpenSearch and on Elasticsearch, both with the packaged mapping
(the test Elasticsearch has the analysis plugin of ``scripts/test-services``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.data import DataProject, SearchSide
from tests.support.servers import MySQLServer, SearchServer, unique_name
from ticketctl.config.resources import mappings_dir


@pytest.fixture
def project(mysql_server: MySQLServer, tmp_path: Path) -> Iterator[DataProject]:
    """Three migrated databases and their users; dropped afterwards."""
    created = DataProject(mysql_server, unique_name("d"), tmp_path)
    created.create()
    try:
        yield created
    finally:
        created.drop()


@pytest.fixture
def migrated(project: DataProject) -> DataProject:
    project.migrate()
    return project


@pytest.fixture(params=["opensearch", "elasticsearch"])
def search(request: pytest.FixtureRequest) -> Iterator[SearchSide]:
    """An alias of this test's own (deleted afterwards, versions and all) on one engine, for the packaged mapping."""
    server: SearchServer = request.getfixturevalue(f"{request.param}_server")
    scratch = request.getfixturevalue(f"{request.param}_scratch")
    side = SearchSide(server, scratch.index("events"), mappings_dir() / "events.json")
    yield side
    server.request("DELETE", f"/.ticketctl-locks/_doc/{side.alias}?refresh=true")


@pytest.fixture
def indexed(migrated: DataProject, search: SearchSide) -> tuple[DataProject, SearchSide]:
    """Migrated databases and an empty index behind the test's alias."""
    from ticketctl.search import create_index

    migrated.search_url, migrated.alias = search.server.url, search.alias
    create_index(migrated.settings(), {}, mapping_path=search.mapping)
    return migrated, search
