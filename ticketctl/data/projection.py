"""Row → document: the one definition of what the search index holds for an event.

``index sync --full``, the incremental ``index sync`` from the outbox, the copy of
``index migrate`` and its content check all read :class:`EventSource` rows with the
queries below and call :func:`project`; nothing else builds a document. The field
names are those of ``mappings/events.json`` (``tests/unit/data/test_projection.py``
checks that every mapped field is produced and no other).

Two choices the mapping leaves open are made here, for a reason each:

* ``minPrice``/``maxPrice`` are the extremes of the event's rules with ``is_active``
  set, whatever their time window: a window that opens or closes changes no row, so
  nothing would tell the indexer to re-project, and the index would go stale on its own.
* ``availability`` is derived from ``status`` and the seats, so a search can filter on
  one keyword: see :func:`availability`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from ticketctl.errors import DatabaseError

if TYPE_CHECKING:
    from ticketctl.db import Session

DOCUMENT_FIELDS = (
    "eventId",
    "name",
    "city",
    "venue",
    "category",
    "date",
    "minPrice",
    "maxPrice",
    "availability",
    "availableSeats",
    "totalSeats",
    "description",
    "tags",
)
"""The fields of a document, in the order :func:`project` writes them."""

DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the mapping's first format, yyyy-MM-dd'T'HH:mm:ss'Z'
LIMITED_FRACTION = 0.1  # at most this share of the seats left: "LIMITED"

# Columns the projection reads, per table: the schema check of seed and sync names the missing ones.
EVENT_COLUMNS = (
    "event_id",
    "event_name",
    "event_date",
    "venue_name",
    "city",
    "category",
    "description",
    "tags",
    "total_seats",
    "available_seats",
    "status",
)
PRICING_COLUMNS = ("event_id", "price", "is_active")

_SELECT_EVENTS = "SELECT " + ", ".join(EVENT_COLUMNS) + " FROM events"
_SELECT_PRICES = "SELECT event_id, MIN(price), MAX(price) FROM event_pricing_rules WHERE is_active"


class EventSource(NamedTuple):
    """What a document is built from: one ``events`` row and its active price range."""

    event_id: int
    event_name: str
    event_date: datetime
    venue_name: str | None
    city: str | None
    category: str | None
    description: str | None
    tags: str | None  # JSON text, as both servers hand it out
    total_seats: int
    available_seats: int
    status: str | None
    min_price: Decimal | None = None
    max_price: Decimal | None = None


def project(source: EventSource) -> dict[str, Any]:
    """The search document of one event; ``eventId`` is also the document's ``_id``."""
    return {
        "eventId": source.event_id,
        "name": source.event_name,
        "city": source.city,
        "venue": source.venue_name,
        "category": source.category,
        "date": source.event_date.strftime(DATE_FORMAT),
        "minPrice": float(source.min_price) if source.min_price is not None else None,
        "maxPrice": float(source.max_price) if source.max_price is not None else None,
        "availability": availability(source.status, source.available_seats, source.total_seats),
        "availableSeats": source.available_seats,
        "totalSeats": source.total_seats,
        "description": source.description,
        "tags": parse_tags(source.event_id, source.tags),
    }


def availability(status: str | None, available: int, total: int) -> str:
    """One keyword for the search filter.

    ``CANCELLED`` and ``UPCOMING`` (not on sale yet) come from the status;
    ``SOLD_OUT`` from the status or no seat left; an event on sale is
    ``LIMITED`` with at most a tenth of its seats left, else ``AVAILABLE``.
    """
    if status == "CANCELLED":
        return "CANCELLED"
    if status == "SOLD_OUT" or available <= 0:
        return "SOLD_OUT"
    if status in (None, "UPCOMING"):
        return "UPCOMING"
    if total > 0 and available <= total * LIMITED_FRACTION:
        return "LIMITED"
    return "AVAILABLE"


def parse_tags(event_id: int, text: str | None) -> list[str]:
    """``events.tags`` (a JSON array of strings, or NULL) as a list; anything else names the event."""
    if text is None:
        return []
    try:
        value = json.loads(text)
    except ValueError as error:
        raise DatabaseError(
            f"events.tags of event {event_id} is not JSON ({error})",
            hint=f"UPDATE events SET tags = '[]' WHERE event_id = {event_id}, or store a JSON array of strings",
        ) from error
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DatabaseError(
            f"events.tags of event {event_id} is not a JSON array of strings: {text[:80]}",
            hint='store tags as a JSON array of strings, e.g. \'["rock", "outdoor"]\'',
        )
    return value


# --------------------------------------------------------------------------- reading sources


def read_chunk(session: Session, after_id: int, limit: int) -> list[EventSource]:
    """The next ``limit`` events with ``event_id > after_id``, in id order (keyset pagination)."""
    rows = session.query(f"{_SELECT_EVENTS} WHERE event_id > %s ORDER BY event_id LIMIT %s", (after_id, limit))
    if not rows:
        return []
    prices = _prices(session, "event_id BETWEEN %s AND %s", (rows[0][0], rows[-1][0]))
    return [_source(row, prices) for row in rows]


def read_by_ids(session: Session, event_ids: Iterable[int]) -> dict[int, EventSource]:
    """The events among ``event_ids`` that exist, by id; the missing ones were deleted."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    rows = session.query(f"{_SELECT_EVENTS} WHERE event_id IN ({marks})", tuple(ids))
    prices = _prices(session, f"event_id IN ({marks})", tuple(ids)) if rows else {}
    return {int(row[0]): _source(row, prices) for row in rows}


def count_events(session: Session) -> int:
    row = session.query_one("SELECT COUNT(*) FROM events")
    return int(row[0]) if row else 0


def _prices(session: Session, where: str, args: tuple[Any, ...]) -> dict[int, tuple[Decimal, Decimal]]:
    rows = session.query(f"{_SELECT_PRICES} AND {where} GROUP BY event_id", args)
    return {int(row[0]): (row[1], row[2]) for row in rows}


def _source(row: Sequence[Any], prices: dict[int, tuple[Decimal, Decimal]]) -> EventSource:
    low, high = prices.get(int(row[0]), (None, None))
    return EventSource._make((*row, low, high))
