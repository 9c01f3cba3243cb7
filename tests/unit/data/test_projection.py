"""The projection row → document, against the packaged mapping: every mapped field, no other, each of its type."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ticketctl.data.projection import DOCUMENT_FIELDS, EventSource, availability, parse_tags, project
from ticketctl.errors import DatabaseError
from ticketctl.search.spec import load_mapping

pytestmark = pytest.mark.unit

SOURCE = EventSource(
    event_id=42,
    event_name="Björk Live",
    event_date=datetime(2026, 12, 24, 20, 30),
    venue_name="Harpa",
    city="Reykjavík",
    category="concert",
    description="Une soirée inoubliable",
    tags='["live-music", "pop"]',
    total_seats=200,
    available_seats=150,
    status="ON_SALE",
    min_price=Decimal("36.00"),
    max_price=Decimal("202.50"),
)
# The Java date pattern of the mapping's first format, as a regular expression.
JAVA_TO_REGEX = {"yyyy": r"\d{4}", "MM": r"\d{2}", "dd": r"\d{2}", "HH": r"\d{2}", "mm": r"\d{2}", "ss": r"\d{2}"}


def _properties() -> dict[str, Any]:
    return dict(load_mapping().mappings["properties"])


def _date_regex(pattern: str) -> str:
    regex = re.escape(pattern.split("||")[0]).replace("'", "").replace(r"\'", "")
    for java, replacement in JAVA_TO_REGEX.items():
        regex = regex.replace(java, replacement)
    return regex.replace("'", "")


def test_every_mapped_field_is_produced_and_no_other() -> None:
    document = project(SOURCE)
    assert set(document) == set(_properties())
    assert tuple(document) == DOCUMENT_FIELDS


def test_each_value_has_its_mapped_type() -> None:
    document = project(SOURCE)
    for name, spec in _properties().items():
        value = document[name]
        kind = spec["type"]
        if kind in ("long", "integer"):
            assert type(value) is int, name
        elif kind == "double":
            assert type(value) is float, name
        elif kind == "keyword" and name == "tags":
            assert isinstance(value, list) and all(isinstance(item, str) for item in value)
        elif kind in ("keyword", "text"):
            assert isinstance(value, str), name
        elif kind == "date":
            assert re.fullmatch(_date_regex(spec["format"]), value), (value, spec["format"])
        else:
            pytest.fail(f"{name}: type {kind} is not checked here; extend the test with the mapping")


def test_the_document_of_an_event() -> None:
    assert project(SOURCE) == {
        "eventId": 42,
        "name": "Björk Live",
        "city": "Reykjavík",
        "venue": "Harpa",
        "category": "concert",
        "date": "2026-12-24T20:30:00Z",
        "minPrice": 36.0,
        "maxPrice": 202.5,
        "availability": "AVAILABLE",
        "availableSeats": 150,
        "totalSeats": 200,
        "description": "Une soirée inoubliable",
        "tags": ["live-music", "pop"],
    }


def test_an_event_of_before_v002_and_without_rules_has_nulls_not_missing_fields() -> None:
    bare = SOURCE._replace(city=None, category=None, description=None, tags=None, min_price=None, max_price=None)
    document = project(bare)
    assert set(document) == set(DOCUMENT_FIELDS)
    assert (document["city"], document["minPrice"], document["tags"]) == (None, None, [])


@pytest.mark.parametrize(
    ("status", "available", "total", "expected"),
    [
        ("CANCELLED", 100, 100, "CANCELLED"),
        ("SOLD_OUT", 3, 100, "SOLD_OUT"),
        ("ON_SALE", 0, 100, "SOLD_OUT"),
        ("UPCOMING", 100, 100, "UPCOMING"),
        (None, 100, 100, "UPCOMING"),
        ("ON_SALE", 10, 100, "LIMITED"),
        ("ON_SALE", 11, 100, "AVAILABLE"),
        ("ON_SALE", 1, 0, "AVAILABLE"),
    ],
)
def test_availability(status: str | None, available: int, total: int, expected: str) -> None:
    assert availability(status, available, total) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "events.tags of event 7 is not JSON"),
        ('{"a": 1}', "events.tags of event 7 is not a JSON array of strings"),
        ("[1, 2]", "events.tags of event 7 is not a JSON array of strings"),
    ],
)
def test_tags_that_are_not_an_array_of_strings_name_the_event(text: str, message: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        parse_tags(7, text)
    assert caught.value.message.startswith(message)
    assert caught.value.hint
