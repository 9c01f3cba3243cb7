"""Fixtures of the data tests: migrated databases of one test, and an index of its own on each engine.

``engine`` runs a test on OpenSearch and on Elasticsearch. The Elasticsearch test
server (the integ-test-zip) may lack ``asciifolding`` (analysis-common); there the
index is made from the packaged mapping without that filter, so everything but
accent-folding is tested on both engines; with the filter (a full distribution, or
the plugin of issue 16) the packaged mapping itself is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.data import DataProject, SearchSide, mapping_variant, without_asciifolding
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
def search(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchSide]:
    """An alias of this test's own (deleted afterwards, versions and all) on one engine."""
    server: SearchServer = request.getfixturevalue(f"{request.param}_server")
    scratch = request.getfixturevalue(f"{request.param}_scratch")
    probe = server.request("POST", "/_analyze", {"tokenizer": "standard", "filter": ["asciifolding"], "text": "São"})
    folds = probe.status == 200
    mapping = (
        mappings_dir() / "events.json" if folds else mapping_variant(tmp_path, "lowercase.json", without_asciifolding)
    )
    side = SearchSide(server, scratch.index("events"), mapping, folds)
    yield side
    server.request("DELETE", f"/.ticketctl-locks/_doc/{side.alias}?refresh=true")


@pytest.fixture
def indexed(migrated: DataProject, search: SearchSide) -> tuple[DataProject, SearchSide]:
    """Migrated databases and an empty index behind the test's alias."""
    from ticketctl.search import create_index

    migrated.search_url, migrated.alias = search.server.url, search.alias
    create_index(migrated.settings(), {}, mapping_path=search.mapping)
    return migrated, search
