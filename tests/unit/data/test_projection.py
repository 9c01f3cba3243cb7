"""The projection's SQL against the packaged mapping, offline: every mapped field, no other, the date format.

The documents themselves come from the database: ``tests/integration/data/test_documents.py``
checks them, value by value and type by type, on the real server.
"""

from __future__ import annotations

import re

import pytest

from ticketctl.data.projection import DOCUMENT, DOCUMENT_FIELDS
from ticketctl.search.spec import load_mapping

pytestmark = pytest.mark.unit


def test_every_mapped_field_is_produced_and_no_other() -> None:
    properties = load_mapping().mappings["properties"]
    assert sorted(DOCUMENT_FIELDS) == sorted(properties)
    assert len(set(DOCUMENT_FIELDS)) == len(DOCUMENT_FIELDS)


def test_the_sql_names_each_field_once_as_a_json_key() -> None:
    keys = re.findall(r"'([A-Za-z]+)', ", DOCUMENT)
    assert keys == list(DOCUMENT_FIELDS)


def test_the_date_is_written_in_the_mappings_first_format() -> None:
    first = load_mapping().mappings["properties"]["date"]["format"].split("||")[0]
    assert first == "yyyy-MM-dd'T'HH:mm:ss'Z'"
    assert "DATE_FORMAT(e.event_date, '%%Y-%%m-%%dT%%H:%%i:%%sZ')" in DOCUMENT
