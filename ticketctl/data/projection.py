"""Row → document: the one definition of what the search index holds for an event.

The document is built by the database, in one ``JSON_OBJECT`` expression (:data:`DOCUMENT`):
``index sync --full``, the incremental ``index sync`` from the outbox, the copy of
``index migrate`` and its content check all read documents with the queries below and
nothing else builds one. Why SQL and not Python: a Python projection spent about 50 µs of
CPU per event parsing thirteen columns and writing JSON — five of the six seconds a full
sync of 100,000 events took on two cores — where the server returns one JSON string per
event for a fraction of that. The field names are those of ``mappings/events.json``
(``tests/unit/data/test_projection.py`` and ``tests/integration/data/test_documents.py``
check that every mapped field is produced and no other).

Two choices the mapping leaves open are made here, for a reason each:

* ``minPrice``/``maxPrice`` are the extremes of the event's rules with ``is_active`` set,
  whatever their time window: a window that opens or closes changes no row, so nothing
  would tell the indexer to re-project, and the index would go stale on its own.
* ``availability`` is derived from ``status`` and the seats, so that a search filters on
  one keyword: ``CANCELLED``; ``SOLD_OUT`` (the status, or no seat left); ``UPCOMING`` (not
  on sale yet); ``LIMITED`` (at most a tenth of the seats left); else ``AVAILABLE``.

Both servers have the functions used (``JSON_OBJECT``, ``JSON_EXTRACT``, ``DATE_FORMAT``):
MySQL 8 holds ``tags`` as native JSON, MariaDB as text with a ``JSON_VALID`` check;
``JSON_EXTRACT(tags, '$')`` makes it a JSON array on both (``[]`` when NULL or not JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ticketctl.clients.mysql import Session

# (field, SQL expression) in the order of the document; `e` is the events row, `p` its active price range.
_FIELDS: tuple[tuple[str, str], ...] = (
    ("eventId", "e.event_id"),
    ("name", "e.event_name"),
    ("city", "e.city"),
    ("venue", "e.venue_name"),
    ("category", "e.category"),
    ("date", "DATE_FORMAT(e.event_date, '%%Y-%%m-%%dT%%H:%%i:%%sZ')"),  # the mapping's yyyy-MM-dd'T'HH:mm:ss'Z'
    ("minPrice", "p.low"),
    ("maxPrice", "p.high"),
    (
        "availability",
        "CASE WHEN e.status = 'CANCELLED' THEN 'CANCELLED' "
        "WHEN e.status = 'SOLD_OUT' OR e.available_seats <= 0 THEN 'SOLD_OUT' "
        "WHEN e.status IS NULL OR e.status = 'UPCOMING' THEN 'UPCOMING' "
        "WHEN e.total_seats > 0 AND e.available_seats * 10 <= e.total_seats THEN 'LIMITED' "
        "ELSE 'AVAILABLE' END",
    ),
    ("availableSeats", "e.available_seats"),
    ("totalSeats", "e.total_seats"),
    ("description", "e.description"),
    ("tags", "COALESCE(JSON_EXTRACT(e.tags, '$'), JSON_ARRAY())"),
)
DOCUMENT_FIELDS = tuple(name for name, _ in _FIELDS)
"""The fields of a document, in the order the database writes them."""

DOCUMENT = "JSON_OBJECT(" + ", ".join(f"'{name}', {expression}" for name, expression in _FIELDS) + ")"
"""The SQL expression of an event's document (``%`` doubled: the queries take parameters)."""

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


class Document(NamedTuple):
    """One event's document as the database wrote it: JSON text, ready for the bulk API."""

    event_id: int
    source: str

    def parsed(self) -> dict[str, Any]:
        return dict(json.loads(self.source))


def _query(events_where: str, rules_where: str) -> str:
    return (
        f"SELECT e.event_id, {DOCUMENT} FROM events e LEFT JOIN (SELECT event_id, MIN(price) AS low, "
        f"MAX(price) AS high FROM event_pricing_rules WHERE is_active AND {rules_where} GROUP BY event_id) p "
        f"ON p.event_id = e.event_id WHERE {events_where} ORDER BY e.event_id"
    )


def _documents(rows: Iterable[tuple[Any, ...]]) -> list[Document]:
    # MySQL 8 sends JSON with the binary character set; PyMySQL decodes it, but a driver may not.
    return [
        Document(int(event_id), source.decode() if isinstance(source, bytes) else str(source))
        for event_id, source in rows
    ]


def read_range(session: Session, after_id: int, up_to: int) -> list[Document]:
    """The documents of the events with ``after_id < event_id <= up_to``, in id order.

    A range rather than ``LIMIT``: the price ranges are computed for the same events
    only, by the index on ``(event_id, is_active, priority)``.
    """
    rows = session.query(
        _query("e.event_id > %s AND e.event_id <= %s", "event_id > %s AND event_id <= %s"),
        (after_id, up_to, after_id, up_to),
    )
    return _documents(rows)


def read_by_ids(session: Session, event_ids: Iterable[int]) -> dict[int, Document]:
    """The documents of the events among ``event_ids`` that exist, by id; the missing ones were deleted."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    rows = session.query(_query(f"e.event_id IN ({marks})", f"event_id IN ({marks})"), (*ids, *ids))
    return {document.event_id: document for document in _documents(rows)}


def count_events(session: Session) -> int:
    row = session.query_one("SELECT COUNT(*) FROM events")
    return int(row[0]) if row else 0


def id_bounds(session: Session) -> tuple[int, int]:
    """The smallest and largest event id (0, 0 without events): the ranges a copy reads."""
    row = session.query_one("SELECT COALESCE(MIN(event_id), 0), COALESCE(MAX(event_id), 0) FROM events")
    return (int(row[0]), int(row[1])) if row else (0, 0)
