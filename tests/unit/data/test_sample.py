"""The sample data: the same options give the same rows whatever the chunking, and the rows agree with each other."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal

import pytest

from ticketctl.data import sample
from ticketctl.data import tables as t
from ticketctl.data.sample import SeedOptions, generate, resolve_price, seat_layout

pytestmark = pytest.mark.unit

OPTIONS = SeedOptions(seed=3, events=40, seats_per_event=90, start=date(2026, 12, 1))


def _all(options: SeedOptions) -> dict[str, list[tuple[object, ...]]]:
    rows: dict[str, list[tuple[object, ...]]] = {table.name: [] for table in t.SEED_TABLES}
    for chunk in generate(options):
        for name, part in chunk.items():
            rows[name].extend(part)
    return rows


def test_the_same_options_give_the_same_rows_whatever_the_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    first = _all(OPTIONS)
    monkeypatch.setattr(sample, "ROWS_PER_CHUNK", 150)
    assert _all(OPTIONS) == first
    assert _all(SeedOptions(seed=4, events=40, seats_per_event=90, start=OPTIONS.start)) != first


def test_rows_match_their_tables_columns() -> None:
    rows = _all(OPTIONS)
    for table in t.SEED_TABLES:
        assert rows[table.name], table.name
        assert {len(row) for row in rows[table.name]} == {len(table.columns)}, table.name
        for row in rows[table.name]:
            for (column, kind), value in zip(table.columns, row, strict=True):
                if value is not None:
                    assert isinstance(value, int if kind == "int" else str), (table.name, column, value)


def test_the_rows_agree_with_each_other() -> None:
    rows = _all(OPTIONS)
    seats = {row[0]: row for row in rows["seats"]}
    available = Counter(row[1] for row in rows["seats"] if row[7] == "AVAILABLE")
    for event in rows["events"]:
        assert event[9] == available[event[0]]
        assert event[8] == OPTIONS.seats_per_event
    confirmed = {row[0] for row in rows["bookings"] if row[4] == "CONFIRMED"}
    sold = Counter(row[2] for row in rows["booking_seats"] if row[1] in confirmed)
    assert max(sold.values()) == 1
    assert {seat_id for seat_id, row in seats.items() if row[7] == "BOOKED"} == set(sold)
    totals: dict[int, Decimal] = {}
    for _, booking_id, seat_id, price in rows["booking_seats"]:
        totals[booking_id] = totals.get(booking_id, Decimal(0)) + Decimal(str(price))
        assert price == seats[seat_id][6]
    assert {row[0]: Decimal(str(row[3])) for row in rows["bookings"]} == totals
    reserved = {row[1]: row for row in rows["reservations"] if row[6] == "ACTIVE"}
    assert {seat_id for seat_id, row in seats.items() if row[7] == "RESERVED"} == set(reserved)
    assert all(seats[seat_id][9] == row[3] for seat_id, row in reserved.items())
    assert len({row[0] for row in rows["idempotency_keys"]}) == len(rows["bookings"])
    assert [row[0] for row in rows["outbox_events"]] == [row[0] for row in rows["events"]]


def test_seat_numbers_are_unique_per_event_and_fit_their_columns() -> None:
    layout = seat_layout(5000)
    assert len(layout) == 5000 == len({seat for seat, _, _, _ in layout})
    assert max(len(seat) for seat, _, _, _ in layout) <= 20  # seat_number VARCHAR(20)
    assert max(len(row) for _, _, row, _ in layout) <= 10  # `row_number` VARCHAR(10)
    # floor 750 seats: 2 rows of 20 VIP, the rest PREMIUM; 3 lower sections of 750: 3 PREMIUM rows each
    assert Counter(kind for _, _, _, kind in layout) == {"VIP": 40, "PREMIUM": 710 + 3 * 60, "REGULAR": 4070}


def test_the_price_of_a_seat_is_the_matching_rule_of_highest_priority() -> None:
    sale = datetime(2026, 11, 20, 12)
    rules = sample._pricing_rules(Decimal(40), sale, datetime(2027, 1, 10, 20))
    early = datetime(2026, 11, 25, 12)  # inside the early-bird window
    late = datetime(2026, 12, 20, 12)
    assert resolve_price(rules, "REGULAR", "UPPER", early) == Decimal("32.00")
    assert resolve_price(rules, "REGULAR", "UPPER", late) == Decimal("40.00")
    assert resolve_price(rules, "VIP", "FLOOR", late) == Decimal("180.00")  # the floor package beats VIP
    assert resolve_price(rules, "PREMIUM", "FLOOR", late) == Decimal("72.00")
    # the inactive last-minute rule (priority 20) never applies
    assert resolve_price(rules, "REGULAR", "UPPER", datetime(2027, 1, 9, 12)) == Decimal("40.00")


def test_names_and_cities_have_accents() -> None:
    rows = _all(OPTIONS)
    assert any(not row[4].isascii() for row in rows["events"])  # type: ignore[union-attr]
    assert any(not row[1].isascii() for row in rows["events"])  # type: ignore[union-attr]
