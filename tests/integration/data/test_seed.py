"""``ticketctl seed`` on the real MariaDB: every cross-database invariant checked with SQL, determinism,
and what it does with data that is already there."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from tests.support.cli import invoke
from tests.support.data import DataProject
from ticketctl.data.sample import SeedOptions
from ticketctl.data.seed import NotEmptyError, seed
from ticketctl.errors import AbortedError, ExitCode

pytestmark = pytest.mark.integration

SMALL = SeedOptions(seed=7, events=60, seats_per_event=120, start=date(2026, 12, 1))
TABLES = {
    "events": ("events", "event_pricing_rules", "outbox_events"),
    "inventory": ("seats", "reservations", "seat_audit"),
    "bookings": ("bookings", "booking_seats", "idempotency_keys", "payment_transactions"),
}

# Each query returns the rows that break one invariant; every one must return none.
INVARIANTS = {
    "every seat belongs to an existing event": """
        SELECT s.seat_id FROM {inventory}.seats s LEFT JOIN {events}.events e ON e.event_id = s.event_id
        WHERE e.event_id IS NULL""",
    "total_seats counts the event's seats": """
        SELECT e.event_id FROM {events}.events e
        LEFT JOIN (SELECT event_id, COUNT(*) n FROM {inventory}.seats GROUP BY event_id) s ON s.event_id = e.event_id
        WHERE e.total_seats <> COALESCE(s.n, 0)""",
    "available_seats counts the event's available seats": """
        SELECT e.event_id FROM {events}.events e
        LEFT JOIN (SELECT event_id, COUNT(*) n FROM {inventory}.seats WHERE status = 'AVAILABLE' GROUP BY event_id) s
          ON s.event_id = e.event_id
        WHERE e.available_seats <> COALESCE(s.n, 0)""",
    "every booked seat exists, in the booking's event": """
        SELECT bs.booking_seat_id FROM {bookings}.booking_seats bs
        JOIN {bookings}.bookings b ON b.booking_id = bs.booking_id
        LEFT JOIN {inventory}.seats s ON s.seat_id = bs.seat_id
        WHERE s.seat_id IS NULL OR s.event_id <> b.event_id""",
    "no seat is sold twice": """
        SELECT bs.seat_id FROM {bookings}.booking_seats bs JOIN {bookings}.bookings b ON b.booking_id = bs.booking_id
        WHERE b.status = 'CONFIRMED' GROUP BY bs.seat_id HAVING COUNT(*) > 1""",
    "a BOOKED seat is in its confirmed booking, at the price paid": """
        SELECT s.seat_id FROM {inventory}.seats s
        LEFT JOIN {bookings}.booking_seats bs ON bs.seat_id = s.seat_id AND bs.booking_id = s.booking_id
        LEFT JOIN {bookings}.bookings b ON b.booking_id = bs.booking_id AND b.status = 'CONFIRMED'
        WHERE s.status = 'BOOKED' AND (b.booking_id IS NULL OR bs.price <> s.price)""",
    "a seat of a confirmed booking is BOOKED by it": """
        SELECT bs.seat_id FROM {bookings}.booking_seats bs
        JOIN {bookings}.bookings b ON b.booking_id = bs.booking_id AND b.status = 'CONFIRMED'
        JOIN {inventory}.seats s ON s.seat_id = bs.seat_id
        WHERE s.status <> 'BOOKED' OR s.booking_id <> b.booking_id""",
    "a booking's total is the sum of its seats": """
        SELECT b.booking_id FROM {bookings}.bookings b JOIN {bookings}.booking_seats bs ON bs.booking_id = b.booking_id
        GROUP BY b.booking_id, b.total_amount HAVING SUM(bs.price) <> b.total_amount""",
    "a confirmed booking is paid: an authorisation and a capture of its total": """
        SELECT b.booking_id FROM {bookings}.bookings b
        LEFT JOIN {bookings}.payment_transactions p ON p.booking_id = b.booking_id AND p.status = 'SUCCESS'
          AND p.amount = b.total_amount
        WHERE b.status = 'CONFIRMED' GROUP BY b.booking_id HAVING COUNT(DISTINCT p.transaction_type) <> 2""",
    "a failed booking has a failed payment and no booked seat": """
        SELECT b.booking_id FROM {bookings}.bookings b
        LEFT JOIN {bookings}.payment_transactions p ON p.booking_id = b.booking_id AND p.status = 'FAILED'
        LEFT JOIN {inventory}.seats s ON s.booking_id = b.booking_id
        WHERE b.status = 'FAILED' AND (p.transaction_id IS NULL OR s.seat_id IS NOT NULL)""",
    "every booking has its idempotency key, and every key its booking": """
        SELECT b.booking_id FROM {bookings}.bookings b
        LEFT JOIN {bookings}.idempotency_keys k ON k.booking_id = b.booking_id WHERE k.booking_id IS NULL
        UNION ALL
        SELECT k.booking_id FROM {bookings}.idempotency_keys k
        LEFT JOIN {bookings}.bookings b ON b.booking_id = k.booking_id WHERE b.booking_id IS NULL""",
    "a RESERVED seat has the active reservation of the user it names": """
        SELECT s.seat_id FROM {inventory}.seats s
        LEFT JOIN {inventory}.reservations r ON r.seat_id = s.seat_id AND r.status = 'ACTIVE'
          AND r.user_id = s.reserved_by AND r.expires_at = s.reserved_until AND r.event_id = s.event_id
        WHERE s.status = 'RESERVED' AND r.reservation_id IS NULL""",
    "an active reservation holds a RESERVED seat": """
        SELECT r.reservation_id FROM {inventory}.reservations r JOIN {inventory}.seats s ON s.seat_id = r.seat_id
        WHERE r.status = 'ACTIVE' AND (s.status <> 'RESERVED' OR s.event_id <> r.event_id)""",
    "a seat's price is what the event's best matching rule said at the start": """
        SELECT s.seat_id FROM {inventory}.seats s JOIN {events}.events e ON e.event_id = s.event_id
        WHERE s.price <> (
          SELECT r.price FROM {events}.event_pricing_rules r
          WHERE r.event_id = s.event_id AND r.is_active AND (r.seat_type IS NULL OR r.seat_type = s.seat_type)
            AND (r.section IS NULL OR r.section = s.section)
            AND (r.valid_from IS NULL OR r.valid_from <= '2026-12-01 12:00:00')
            AND (r.valid_until IS NULL OR r.valid_until > '2026-12-01 12:00:00')
          ORDER BY r.priority DESC, r.rule_id LIMIT 1)""",
    "one unprocessed outbox row per event": """
        SELECT e.event_id FROM {events}.events e
        LEFT JOIN {events}.outbox_events o ON o.aggregate_id = e.event_id AND o.processed = FALSE
          AND o.aggregate_type = 'event' AND JSON_VALUE(o.payload, '$.eventId') = e.event_id
        GROUP BY e.event_id HAVING COUNT(o.id) <> 1""",
    "cancelled and upcoming events sell nothing": """
        SELECT s.seat_id FROM {inventory}.seats s JOIN {events}.events e ON e.event_id = s.event_id
        WHERE e.status IN ('CANCELLED', 'UPCOMING') AND s.status IN ('BOOKED', 'RESERVED')""",
}


def test_every_cross_database_invariant_holds(migrated: DataProject) -> None:
    result = seed(migrated.settings(), migrated.secrets, SMALL)

    counts = {
        table: migrated.scalar(f"SELECT COUNT(*) FROM {{{key}}}.{table}")
        for key, tables in TABLES.items()
        for table in tables
    }
    assert counts["events"] == 60 and counts["seats"] == 60 * 120 and counts["event_pricing_rules"] == 360
    assert counts["seat_audit"] == 0
    assert {load.table: load.rows for load in result.tables} == {t: n for t, n in counts.items() if t != "seat_audit"}
    broken = {name: migrated.query(sql)[:5] for name, sql in INVARIANTS.items()}
    assert {name: rows for name, rows in broken.items() if rows} == {}
    # The data is varied enough for the invariants to mean something.
    statuses = dict(migrated.query("SELECT status, COUNT(*) FROM {inventory}.seats GROUP BY status"))
    assert {"AVAILABLE", "BOOKED", "RESERVED"} <= set(statuses)
    event_statuses = {row[0] for row in migrated.query("SELECT DISTINCT status FROM {events}.events")}
    assert {"ON_SALE", "UPCOMING"} <= event_statuses
    assert migrated.scalar("SELECT COUNT(*) FROM {bookings}.bookings WHERE status = 'FAILED'") > 0
    accented = migrated.scalar(
        "SELECT COUNT(*) FROM {events}.events WHERE city IN ('São Paulo', 'Zürich', 'Köln', 'Bogotá', 'Montréal', "
        "'Kraków', 'Málaga', 'Reykjavík', 'Genève', 'Medellín')"
    )
    assert accented > 0
    (low, high) = migrated.query("SELECT MIN(event_date), MAX(event_date) FROM {events}.events")[0]
    assert date(2026, 12, 1) < low.date() and (high.date() - date(2026, 12, 1)).days <= 180
    assert result.method == "load-data"  # MariaDB allows local_infile by default
    assert result.rows_per_second > 0


def test_the_same_seed_gives_identical_data_and_replace_asks_first(migrated: DataProject) -> None:
    settings, secrets = migrated.settings(), migrated.secrets
    seed(settings, secrets, SMALL)
    # Outbox ids are AUTO_INCREMENT on purpose: they version the index's documents, so they only grow.
    first = {
        (key, table): migrated.dump(key, table, without=("id",) if table == "outbox_events" else ())
        for key, tables in TABLES.items()
        for table in tables
    }
    with pytest.raises(NotEmptyError) as refused:
        seed(settings, secrets, SMALL)
    assert "hold a previous seed (seed 7, events 60, start 2026-12-01)" in refused.value.message
    assert refused.value.exit_code == ExitCode.NOT_EMPTY

    questions: list[str] = []

    def decline(question: str) -> bool:
        questions.append(question)
        return False

    with pytest.raises(AbortedError):
        seed(settings, secrets, SMALL, replace="seed", confirm=decline)
    assert questions and questions[0].startswith("Delete the rows of the previous seed in ")
    assert migrated.dump("events", "events") == first[("events", "events")]  # declined: nothing changed

    again = seed(settings, secrets, SMALL, replace="seed", confirm=lambda q: True)
    assert again.cleared[f"{migrated.name('inventory')}.seats"] == 60 * 120
    second = {
        (key, table): migrated.dump(key, table, without=("id",) if table == "outbox_events" else ())
        for key, tables in TABLES.items()
        for table in tables
    }
    assert second == first
    other = seed(
        settings,
        secrets,
        SeedOptions(seed=8, events=60, seats_per_event=120, start=SMALL.start),
        replace="seed",
        confirm=lambda q: True,
    )
    assert other.count("events") == 60
    assert migrated.dump("events", "events") != first[("events", "events")]


def test_rows_seed_did_not_make_are_never_mixed_with_and_only_replace_all_deletes_them(
    migrated: DataProject, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated.root(
        "INSERT INTO events (event_name, event_date, total_seats, available_seats) "
        "VALUES ('Someone else''s event', '2027-01-01 20:00:00', 10, 10)",
        database=migrated.name("events"),
    )
    for name, value in migrated.environ().items():
        monkeypatch.setenv(name, value)
    refused = invoke(capsys, ["seed", "--events", "5", "--seats-per-event", "10", "--start", "2026-12-01"])
    assert refused.exit_code == ExitCode.NOT_EMPTY
    assert refused.stderr.splitlines()[-1] == (
        f"error: {migrated.name('events')}.events (1 rows) hold rows that seed did not make; seed never mixes its "
        "rows with others — pass --replace-all to delete every row of these tables first (asks), or seed other "
        "databases"
    )
    replace = invoke(capsys, ["seed", "--events", "5", "--seats-per-event", "10", "--replace", "--yes"])
    assert replace.exit_code == ExitCode.NOT_EMPTY
    assert "--replace deletes only a seed's rows" in replace.stderr
    unconfirmed = invoke(capsys, ["seed", "--events", "5", "--seats-per-event", "10", "--replace-all"])
    assert unconfirmed.exit_code == ExitCode.ABORTED  # no terminal, no --yes: nothing deleted
    assert migrated.scalar("SELECT COUNT(*) FROM {events}.events") == 1

    done = invoke(capsys, ["seed", "--events", "5", "--seats-per-event", "10", "--replace-all", "--yes", "--json"])
    assert done.exit_code == 0, done.stderr
    assert migrated.query("SELECT event_name FROM {events}.events WHERE event_name LIKE 'Someone%'") == []
    assert migrated.scalar("SELECT COUNT(*) FROM {inventory}.seats") == 50
    assert migrated.scalar("SELECT SUM(price) FROM {inventory}.seats") > Decimal(0)


def test_insert_gives_the_same_rows_as_load_data(migrated: DataProject) -> None:
    settings, secrets = migrated.settings(), migrated.secrets
    options = SeedOptions(seed=3, events=12, seats_per_event=50, start=date(2026, 12, 1))
    loaded = seed(settings, secrets, options, method="load-data")
    by_load = {table: migrated.dump(key, table, without=("id",)) for key, tables in TABLES.items() for table in tables}
    inserted = seed(settings, secrets, options, method="insert", replace="seed", confirm=lambda q: True)
    by_insert = {
        table: migrated.dump(key, table, without=("id",)) for key, tables in TABLES.items() for table in tables
    }
    assert (loaded.method, inserted.method) == ("load-data", "insert")
    assert by_insert == by_load


def test_a_database_that_is_not_migrated_is_refused_before_any_write(
    project: DataProject, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project.migrate(target=1)
    for name, value in project.environ().items():
        monkeypatch.setenv(name, value)
    result = invoke(capsys, ["seed", "--events", "3", "--seats-per-event", "5"])
    assert result.exit_code == ExitCode.PENDING
    assert result.stderr == (
        f"error: {project.name('events')}: column events.city does not exist: V002 is not applied — run "
        "'ticketctl migrate' ('ticketctl migrate status' lists what is pending)\n"
    )  # one line, before any progress: nothing was counted or written
    assert project.scalar("SELECT COUNT(*) FROM {inventory}.seats") == 0


def test_seed_runs_as_the_users_that_migrate_created_from_their_password_hashes(
    project: DataProject, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``migrate`` with the root password creates each application user with its password sent as a hash;
    seed then logs in as those users, its loader session included (LOAD DATA LOCAL INFILE)."""
    project.drop()  # no users, no databases: migrate makes both
    for name, value in project.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MYSQL_ROOT_PASSWORD", project.server.root_password)
    assert invoke(capsys, ["migrate", "--json"]).exit_code == 0
    created = project.root(
        "SELECT User, authentication_string FROM mysql.user WHERE User IN (%s, %s, %s)",
        tuple(project.user(key) for key in ("events", "inventory", "bookings")),
    )
    assert len(created) == 3 and all(stored.startswith("*") for _, stored in created)  # MariaDB's native hash
    monkeypatch.delenv("MYSQL_ROOT_PASSWORD")  # seed needs none

    result = invoke(capsys, ["seed", "--events", "4", "--seats-per-event", "10", "--seed", "5", "--json"])

    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["method"] == "load-data"
    assert project.scalar("SELECT COUNT(*) FROM {inventory}.seats") == 40
