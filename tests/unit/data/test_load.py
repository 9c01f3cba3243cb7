"""The two encodings of a row: LOAD DATA's tab-separated text and INSERT's VALUES, escaped alike."""

from __future__ import annotations

import pytest

from ticketctl.data.load import sql_values, tsv
from ticketctl.data.tables import Table

pytestmark = pytest.mark.unit

TABLE = Table("events", "things", "id", (("id", "int"), ("name", "text"), ("code", "safe"), ("note", "text")))


def test_tsv_escapes_what_load_data_would_read_otherwise() -> None:
    rows = [(1, "São\tPaulo\nnew line \\ backslash", "A-1", None), (2, "plain", None, "x\x00y")]
    assert tsv(TABLE, rows) == ("1\tSão\\tPaulo\\nnew line \\\\ backslash\tA-1\t\\N\n2\tplain\t\\N\tx\\0y\n".encode())


def test_a_table_without_text_columns_is_written_the_same() -> None:
    numbers = Table("events", "n", "id", (("id", "int"), ("code", "safe")))
    assert tsv(numbers, [(1, "A"), (2, None)]) == b"1\tA\n2\t\\N\n"


def test_sql_values_quote_and_escape() -> None:
    assert sql_values(TABLE.kinds, (1, 'l\'Olympia \\ "Paris"\n', "A-1", None)) == (
        "(1,'l\\'Olympia \\\\ \\\"Paris\\\"\\n','A-1',NULL)"
    )
