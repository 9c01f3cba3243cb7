"""Pieces of ``index sync`` that need no server: how a copy splits the events among its readers."""

from __future__ import annotations

import pytest

from ticketctl.search.sync import split_ids

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("bounds", "parts", "expected"),
    [
        ((1, 100_000), 2, [(1, 50_000), (50_001, 100_000)]),
        ((1, 7), 2, [(1, 4), (5, 7)]),
        ((5, 5), 2, [(5, 5)]),
        ((0, 0), 2, [(0, 0)]),
        ((1, 10), 1, [(1, 10)]),
        ((3, 2), 2, []),
    ],
)
def test_the_ids_are_cut_into_contiguous_ranges_that_cover_them_once(
    bounds: tuple[int, int], parts: int, expected: list[tuple[int, int]]
) -> None:
    assert split_ids(bounds, parts) == expected
