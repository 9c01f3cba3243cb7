"""The tables that ``seed`` fills, with the columns it writes and how each value is encoded.

One declaration serves the generator (the order of a row's values), both bulk loaders
(``LOAD DATA`` column lists and ``INSERT`` statements) and ``--replace`` (the id column
that delimits the rows a seed made).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ticketctl.clients.mysql import quote_identifier

# How a value is written: "int" (an int, or None), "text" (any string: escaped), "safe"
# (a string the generator makes from digits, ASCII letters, '-', ':', '.', ' ' only).
Kind = Literal["int", "text", "safe"]


@dataclass(frozen=True)
class Table:
    database: str  # the settings key: events, inventory or bookings
    name: str
    id_column: str  # the rows a seed made are those with id_column in its recorded range
    columns: tuple[tuple[str, Kind], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(kind for _, kind in self.columns)

    @property
    def column_list(self) -> str:
        """``(a, b, `row_number`)``: every name quoted, since some are reserved words."""
        return "(" + ", ".join(quote_identifier(name) for name in self.column_names) + ")"

    @property
    def label(self) -> str:
        return f"{self.database}.{self.name}"


EVENTS = Table(
    "events",
    "events",
    "event_id",
    (
        ("event_id", "int"),
        ("event_name", "text"),
        ("event_date", "safe"),
        ("venue_name", "text"),
        ("city", "text"),
        ("category", "safe"),
        ("description", "text"),
        ("tags", "text"),
        ("total_seats", "int"),
        ("available_seats", "int"),
        ("status", "safe"),
        ("sale_start_time", "safe"),
        ("created_at", "safe"),
    ),
)
PRICING_RULES = Table(
    "events",
    "event_pricing_rules",
    "rule_id",
    (
        ("rule_id", "int"),
        ("event_id", "int"),
        ("rule_name", "text"),
        ("seat_type", "safe"),
        ("section", "safe"),
        ("price", "safe"),
        ("currency", "safe"),
        ("valid_from", "safe"),
        ("valid_until", "safe"),
        ("priority", "int"),
        ("is_active", "int"),
        ("created_at", "safe"),
        ("updated_at", "safe"),
    ),
)
# The outbox's own id is left to AUTO_INCREMENT: the index's document versions are outbox
# ids, so an id must never come back after a --replace (DELETE keeps the counter). The
# rows of a seed are those of its events.
OUTBOX = Table(
    "events",
    "outbox_events",
    "aggregate_id",
    (
        ("aggregate_id", "int"),
        ("aggregate_type", "safe"),
        ("event_type", "safe"),
        ("payload", "text"),
        ("created_at", "safe"),
        ("processed", "int"),
    ),
)
SEATS = Table(
    "inventory",
    "seats",
    "seat_id",
    (
        ("seat_id", "int"),
        ("event_id", "int"),
        ("seat_number", "safe"),
        ("section", "safe"),
        ("row_number", "safe"),
        ("seat_type", "safe"),
        ("price", "safe"),
        ("status", "safe"),
        ("version", "int"),
        ("reserved_by", "safe"),
        ("reserved_until", "safe"),
        ("booking_id", "int"),
        ("created_at", "safe"),
    ),
)
RESERVATIONS = Table(
    "inventory",
    "reservations",
    "reservation_id",
    (
        ("reservation_id", "int"),
        ("seat_id", "int"),
        ("event_id", "int"),
        ("user_id", "safe"),
        ("session_id", "safe"),
        ("expires_at", "safe"),
        ("status", "safe"),
        ("created_at", "safe"),
    ),
)
BOOKINGS = Table(
    "bookings",
    "bookings",
    "booking_id",
    (
        ("booking_id", "int"),
        ("event_id", "int"),
        ("user_id", "safe"),
        ("total_amount", "safe"),
        ("status", "safe"),
        ("payment_id", "safe"),
        ("payment_status", "safe"),
        ("booking_reference", "safe"),
        ("created_at", "safe"),
        ("confirmed_at", "safe"),
    ),
)
BOOKING_SEATS = Table(
    "bookings",
    "booking_seats",
    "booking_seat_id",
    (("booking_seat_id", "int"), ("booking_id", "int"), ("seat_id", "int"), ("price", "safe")),
)
IDEMPOTENCY_KEYS = Table(
    "bookings",
    "idempotency_keys",
    "booking_id",
    (("idempotency_key", "safe"), ("booking_id", "int"), ("created_at", "safe"), ("expires_at", "safe")),
)
PAYMENTS = Table(
    "bookings",
    "payment_transactions",
    "transaction_id",
    (
        ("transaction_id", "int"),
        ("booking_id", "int"),
        ("payment_id", "safe"),
        ("provider", "safe"),
        ("provider_transaction_id", "safe"),
        ("transaction_type", "safe"),
        ("status", "safe"),
        ("amount", "safe"),
        ("currency", "safe"),
        ("idempotency_key", "safe"),
        ("error_code", "safe"),
        ("error_message", "text"),
        ("provider_response", "text"),
        ("created_at", "safe"),
        ("updated_at", "safe"),
    ),
)

SEED_TABLES: tuple[Table, ...] = (
    EVENTS,
    PRICING_RULES,
    OUTBOX,
    SEATS,
    RESERVATIONS,
    BOOKINGS,
    BOOKING_SEATS,
    IDEMPOTENCY_KEYS,
    PAYMENTS,
)
"""In load order: parents before children (the foreign keys inside events_db and bookings_db)."""

AUDIT_TABLE = ("inventory", "seat_audit")
"""Not filled by seed (a seeded seat starts at version 0 with no history), but its rows name
seats by id, so seed refuses to load beside them and ``--replace-all`` empties it too."""


def tables_of(database: str) -> tuple[Table, ...]:
    return tuple(table for table in SEED_TABLES if table.database == database)
