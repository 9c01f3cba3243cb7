"""The bulk writer: its NDJSON, how it reads each item's answer, and its retries of 429."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ticketctl.clients.search import Request, SearchConnection, ServerInfo
from ticketctl.errors import SearchError
from ticketctl.search.bulk import Action, BulkWriter, encode

pytestmark = pytest.mark.unit


class FakeConnection(SearchConnection):
    """Answers each bulk request with the next of ``answers`` (a list of item statuses)."""

    def __init__(self, answers: list[list[int]]):
        super().__init__(ServerInfo("http://search:9200", "opensearch", "3.6.0"), None, timeout=10)
        self.answers = answers
        self.bodies: list[bytes] = []

    def send(self, request: Request, *, timeout: float | None = None) -> Any:
        assert (request.method, request.path, request.content_type) == ("POST", "/events/_bulk", "application/x-ndjson")
        assert request.recorded is False
        self.bodies.append(request.body)
        statuses = self.answers.pop(0)
        items = []
        for status in statuses:
            result: dict[str, Any] = {"status": status}
            if status >= 400 and status not in (404, 409):
                result["error"] = {"type": "mapper_parsing_exception", "reason": "failed to parse field [date]"}
            items.append({"index": result})
        return {"errors": any(status >= 300 for status in statuses), "items": items}


def test_encode_writes_external_versions() -> None:
    body = encode([Action(7, 120, '{"eventId": 7, "name": "Björk"}'), Action(8, 121, None)])
    lines = body.decode().split("\n")
    assert [json.loads(line) for line in lines[:3]] == [
        {"index": {"_id": "7", "version": 120, "version_type": "external_gte"}},
        {"eventId": 7, "name": "Björk"},
        {"delete": {"_id": "8", "version": 121, "version_type": "external_gte"}},
    ]
    assert lines[3] == "" and body.endswith(b"\n")
    assert "Björk" in body.decode()  # UTF-8, not \u escapes


def test_items_are_tallied_and_429_items_alone_are_sent_again() -> None:
    connection = FakeConnection([[201, 409, 429, 200, 404], [429], [201]])
    delays: list[float] = []
    writer = BulkWriter(connection, "events", sleep=delays.append, retry_delays=(0.5, 1.0))
    actions = [
        Action(1, 5, '{"a": 1}'),
        Action(2, 5, '{"a": 2}'),
        Action(3, 5, '{"a": 3}'),
        Action(4, 5, None),
        Action(5, 5, None),
    ]
    counts = writer.write(actions)
    assert counts.as_dict() == {"indexed": 2, "deleted": 1, "stale": 1, "absent": 1, "retried": 2}
    assert [body.count(b"\n") for body in connection.bodies] == [8, 2, 2]
    assert b'"_id":"3"' in connection.bodies[1] and b'"_id":"3"' in connection.bodies[2]
    assert len(delays) == 2 and 0.5 <= delays[0] < 0.56


def test_a_429_that_does_not_pass_is_an_error_and_another_refusal_names_the_event() -> None:
    writer = BulkWriter(FakeConnection([[429], [429], [429]]), "events", sleep=lambda s: None, retry_delays=(0.1, 0.1))
    with pytest.raises(SearchError) as overloaded:
        writer.write([Action(1, 5, '{"a": 1}')])
    assert "refused 1 document(s) with 429 (too many requests) 3 times" in overloaded.value.message
    refused = BulkWriter(FakeConnection([[201, 400]]), "events", sleep=lambda s: None)
    with pytest.raises(SearchError) as caught:
        refused.write([Action(1, 5, '{"a": 1}'), Action(2, 5, '{"a": 2}')])
    assert caught.value.message == (
        "OpenSearch 3.6.0 at http://search:9200: events: index of event 2 → 400 mapper_parsing_exception: failed to "
        "parse field [date]"
    )
    assert caught.value.hint is not None and "ticketctl index diff" in caught.value.hint
