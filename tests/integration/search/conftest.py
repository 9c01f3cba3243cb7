"""Real search servers for the index tests, from ``scripts/test-services`` only.

``TICKETCTL_TEST_OPENSEARCH_URL`` and ``TICKETCTL_TEST_ELASTICSEARCH_URL`` name
them. Without a variable (or when the server does not answer) a test is
skipped with the reason, and fails instead under CI. Each test gets
its own alias ``t<random>``; everything named after it is deleted afterwards,
and the lock index if this session created it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.search_targets import (
    ELASTICSEARCH_VAR,
    LOCK_INDEX,
    OPENSEARCH_VAR,
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


def _target(url: str, tmp_path: Path) -> Iterator[SearchTarget]:
    target = SearchTarget(url=url, alias=new_alias(), tmp_path=tmp_path)
    try:
        yield target
    finally:
        target.cleanup()


@pytest.fixture
def opensearch(opensearch_url: str, tmp_path: Path) -> Iterator[SearchTarget]:
    yield from _target(opensearch_url, tmp_path)


@pytest.fixture
def elasticsearch(elasticsearch_url: str, tmp_path: Path) -> Iterator[SearchTarget]:
    yield from _target(elasticsearch_url, tmp_path)
