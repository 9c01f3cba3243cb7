"""Which outbox rows the indexer can apply, and which servers have SKIP LOCKED."""

from __future__ import annotations

import pytest

from ticketctl.clients.mysql import ServerInfo
from ticketctl.data.outbox import OutboxRow, supports_skip_locked, unusable_reason

pytestmark = pytest.mark.unit


def row(payload: str | bytes | None, *, aggregate_type: str = "event", aggregate_id: int = 7) -> OutboxRow:
    return OutboxRow(1, aggregate_id, aggregate_type, "EventUpdated", payload)


@pytest.mark.parametrize("payload", ['{"eventId": 7}', '{"eventId": 7, "eventName": "Björk"}', "{}", b'{"eventId": 7}'])
def test_usable_rows(payload: str | bytes) -> None:
    assert unusable_reason(row(payload)) is None
    assert unusable_reason(row(payload, aggregate_type="Event")) is None


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (
            row("{not json"),
            "payload is not valid JSON (Expecting property name enclosed in double quotes: line 1 "
            "column 2 (char 1)): '{not json'",
        ),
        (row("[7]"), "payload is not a JSON object: '[7]'"),
        (row(None), "payload is NULL"),
        (row('{"eventId": 8}'), "payload eventId 8 differs from aggregate_id 7"),
        (row("{}", aggregate_type="booking"), "aggregate_type 'booking' is not 'event'"),
        (
            row("x" * 100),
            "payload is not valid JSON (Expecting value: line 1 column 1 (char 0)): '" + "x" * 57 + "...'",
        ),
    ],
)
def test_unusable_rows_say_why(candidate: OutboxRow, reason: str) -> None:
    assert unusable_reason(candidate) == reason


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("8.0.0", False),
        ("8.0.1", True),
        ("8.4.3", True),
        ("5.7.44", False),
        ("10.5.27-MariaDB", False),
        ("10.6.0-MariaDB", True),
        ("10.11.19-MariaDB-0+deb12u1", True),
    ],
)
def test_skip_locked_is_mysql_8_0_1_and_mariadb_10_6(version: str, expected: bool) -> None:
    assert supports_skip_locked(ServerInfo.parse(version)) is expected
