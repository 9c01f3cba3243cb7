"""Which engine versions a snapshot part can be restored into."""

from __future__ import annotations

import pytest

from ticketctl.snapshot.core import incompatibility
from ticketctl.snapshot.manifest import EngineVersion as V


@pytest.mark.parametrize(
    ("part", "taken", "now", "fits"),
    [
        ("mysql", V("mariadb", "10.11.18", "10.11"), V("mariadb", "10.11.20", "10.11"), True),
        ("mysql", V("mariadb", "10.11.18", "10.11"), V("mysql", "8.4.3", "8.4"), False),
        ("mysql", V("mysql", "8.0.40", "8.0"), V("mysql", "8.4.3", "8.4"), False),
        ("redis", V("redis", "7.0.15", "7"), V("redis", "7.4.1", "7"), True),
        ("redis", V("redis", "7.4.1", "7"), V("redis", "6.2.0", "6"), False),
        ("search", V("elasticsearch", "8.19.21", "8"), V("elasticsearch", "9.1.0", "9"), True),
        ("search", V("elasticsearch", "8.19.21", "8"), V("opensearch", "3.6.0", "3"), False),
        ("search", V("opensearch", "3.6.0", "3"), V("opensearch", "2.19.0", "2"), False),
        ("search", V("opensearch", "1.3.0", "1"), V("opensearch", "3.6.0", "3"), False),
    ],
)
def test_compatibility(part: str, taken: V, now: V, fits: bool) -> None:
    reason = incompatibility(part, taken, now)
    assert (reason is None) == fits, reason
    if reason:
        assert taken.label in reason and now.label in reason
