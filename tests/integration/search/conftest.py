"""Real search servers for the index tests, from ``scripts/test-services`` only.

``TICKETCTL_TEST_OPENSEARCH_URL`` and ``TICKETCTL_TEST_ELASTICSEARCH_URL`` name
them. Without a variable (or when the server does not answer) a test is
skipped with the reason, and fails instead under CI. Each test gets
its own alias ``t<random>``; everything named after it is deleted afterwards,
and the lock index if this session created it.

``search`` runs a test once per engine (``search_targets.ENGINES``), and checks
that the server still offers ``_reindex`` or not as ``WITH_REINDEX`` declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.search_targets import (
    ELASTICSEARCH_VAR,
    ENGINES,
    LOCK_INDEX,
    OPENSEARCH_VAR,
    WITH_REINDEX,
    HttpError,
    SearchTarget,
    http,
    new_alias,
    server_url,
)


def _with_lock_index_cleanup(url: str) -> Iterator[str]:
    """Yield the URL; afterwards delete the lock index if this session created it and it is empty."""
    try:
        http(url, "GET", f"/{LOCK_INDEX}")
        existed = True
    except HttpError:
        existed = False
    yield url
    if not existed:
        try:
            if int(http(url, "GET", f"/{LOCK_INDEX}/_count")["count"]) == 0:
                http(url, "DELETE", f"/{LOCK_INDEX}")
        except HttpError:
            pass


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    url = server_url(OPENSEARCH_VAR)
    yield from _with_lock_index_cleanup(url)


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    url = server_url(ELASTICSEARCH_VAR)
    yield from _with_lock_index_cleanup(url)


@pytest.fixture(params=ENGINES)
def search(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchTarget]:
    engine = request.param
    target = SearchTarget(url=request.getfixturevalue(f"{engine}_url"), alias=new_alias(), tmp_path=tmp_path)
    declared = engine in WITH_REINDEX
    assert target.has_reindex == declared, (
        f"{engine} at {target.url}: _reindex is no longer {declared}; see WITH_REINDEX"
    )
    try:
        yield target
    finally:
        target.cleanup()
