"""The projection on the real server: the documents the database writes, field by field, against the mapping."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.data import DataProject
from ticketctl.clients.mysql import app_credentials, connect
from ticketctl.data.projection import read_by_ids, read_range
from ticketctl.search.spec import load_mapping

pytestmark = pytest.mark.integration

EVENTS = [
    # name, city, status, available, total, tags
    ("Björk Live", "Reykjavík", "ON_SALE", 150, 200, '["live-music", "pop"]'),
    ("Sold out", "Zürich", "SOLD_OUT", 0, 100, "[]"),
    ("Last seats", "São Paulo", "ON_SALE", 10, 100, None),
    ("Not yet", "Köln", "UPCOMING", 100, 100, '["new"]'),
    ("Called off", "Genève", "CANCELLED", 90, 100, '["refund"]'),
    ("Nothing left", "Málaga", "ON_SALE", 0, 100, "[]"),
    ("No status", None, None, 5, 100, None),
]
JAVA_TO_REGEX = {"yyyy": r"\d{4}", "MM": r"\d{2}", "dd": r"\d{2}", "HH": r"\d{2}", "mm": r"\d{2}", "ss": r"\d{2}"}


def _documents(project: DataProject) -> dict[int, dict[str, Any]]:
    for name, city, status, available, total, tags in EVENTS:
        project.root(
            "INSERT INTO events (event_name, event_date, venue_name, city, category, description, tags, total_seats, "
            "available_seats, status) VALUES (%s, '2026-12-24 20:30:00', 'Harpa', %s, 'concert', 'Une soirée', %s, "
            "%s, %s, %s)",
            (name, city, tags, total, available, status),
            database=project.name("events"),
        )
    project.root(
        "INSERT INTO event_pricing_rules (event_id, rule_name, seat_type, price, is_active) VALUES "
        "(1, 'Standard', 'REGULAR', 36.00, TRUE), (1, 'VIP', 'VIP', 202.50, TRUE), (1, 'Old', NULL, 1.00, FALSE)",
        database=project.name("events"),
    )
    database = project.settings().mysql.database("events")
    with connect(project.settings().mysql, app_credentials(database, project.secrets), database=database.name) as s:
        by_id = read_by_ids(s, range(1, 20))
        assert [document.event_id for document in read_range(s, 0, 100)] == sorted(by_id) == list(range(1, 8))
    return {event_id: document.parsed() for event_id, document in by_id.items()}


def test_documents_have_every_mapped_field_of_its_type_and_no_other(migrated: DataProject) -> None:
    documents = _documents(migrated)
    properties = load_mapping().mappings["properties"]
    date = re.escape(properties["date"]["format"].split("||")[0]).replace("'", "").replace("\\", "")
    for java, regex in JAVA_TO_REGEX.items():
        date = date.replace(java, regex)
    for document in documents.values():
        assert set(document) == set(properties)
        for name, spec in properties.items():
            value, kind = document[name], spec["type"]
            if value is None:
                assert name in ("city", "minPrice", "maxPrice"), name  # nullable in the data above only
            elif kind in ("long", "integer"):
                assert type(value) is int, name
            elif kind == "double":
                assert isinstance(value, int | float), name
            elif name == "tags":
                assert isinstance(value, list) and all(isinstance(item, str) for item in value)
            elif kind in ("keyword", "text"):
                assert isinstance(value, str), name
            elif kind == "date":
                assert re.fullmatch(date, value), value
            else:
                pytest.fail(f"{name}: type {kind} is not checked here; extend the test with the mapping")


def test_the_document_of_an_event_and_the_availability_rule(migrated: DataProject) -> None:
    documents = _documents(migrated)
    assert documents[1] == {
        "eventId": 1,
        "name": "Björk Live",
        "city": "Reykjavík",
        "venue": "Harpa",
        "category": "concert",
        "date": "2026-12-24T20:30:00Z",
        "minPrice": 36.0,  # the inactive 1.00 rule does not count
        "maxPrice": 202.5,
        "availability": "AVAILABLE",
        "availableSeats": 150,
        "totalSeats": 200,
        "description": "Une soirée",
        "tags": ["live-music", "pop"],
    }
    assert {event_id: document["availability"] for event_id, document in documents.items()} == {
        1: "AVAILABLE",
        2: "SOLD_OUT",
        3: "LIMITED",
        4: "UPCOMING",
        5: "CANCELLED",
        6: "SOLD_OUT",
        7: "UPCOMING",
    }
    assert (documents[3]["tags"], documents[3]["minPrice"], documents[7]["city"]) == ([], None, None)
