"""seed's checks and its loading: options, LOAD DATA LOCAL INFILE where the server allows it, INSERT otherwise."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ticketctl.clients.mysql import ServerError, ServerInfo
from ticketctl.data import tables as t
from ticketctl.data.load import InsertLoader, LoadDataLoader
from ticketctl.data.sample import SeedOptions
from ticketctl.data.seed import TableProgress, _choose_method, _Worker, check_options
from ticketctl.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SeedOptions(events=0), "--events: must be between 1 and 10000000, got 0"),
        (SeedOptions(seats_per_event=0), "--seats-per-event: must be between 1 and 100000, got 0"),
        (SeedOptions(booked=1.5), "--booked: must be a share between 0 and 1, got 1.5"),
        (SeedOptions(booked=0.6, reserved=0.6), "--booked + --reserved: 0.6 + 0.6 leaves no seat available"),
    ],
)
def test_options_out_of_range(options: SeedOptions, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_options(options)
    assert caught.value.message == message


def test_the_default_start_is_today() -> None:
    assert SeedOptions().start == date.today()


class FakeSession:
    """A session that answers ``@@GLOBAL.local_infile`` and records statements; LOAD DATA may be refused."""

    def __init__(self, local_infile: int, version: str = "8.4.3", refuse_load: int | None = None):
        self.local_infile = local_infile
        self.server = ServerInfo.parse(version)
        self.where = "tkt_u@db:3306/events_db"
        self.refuse_load = refuse_load
        self.statements: list[str] = []
        self.commits = 0

    def query_one(self, sql: str, args: Any = None) -> tuple[Any, ...]:
        assert sql == "SELECT @@GLOBAL.local_infile"
        return (self.local_infile,)

    def query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        assert sql == "SHOW WARNINGS LIMIT 1"
        return []

    def execute(self, sql: str, args: Any = None) -> int:
        self.statements.append(sql)
        if sql.startswith("LOAD DATA") and self.refuse_load:
            raise ServerError("refused", errno=self.refuse_load, detail="Loading local data is disabled")
        return sql.count("),(") + 1 if sql.startswith("INSERT") else 0

    def commit(self) -> None:
        self.commits += 1


def test_mysql_8_default_falls_back_to_insert_and_says_how_to_allow_load_data() -> None:
    method, reason = _choose_method(FakeSession(0), "auto")  # type: ignore[arg-type]
    assert method == "insert"
    assert reason == (
        "multi-row INSERT: MySQL 8.4.3 has local_infile=OFF (MySQL 8's default); as an administrator, SET GLOBAL "
        "local_infile = 1 lets seed use LOAD DATA LOCAL INFILE, about twice as fast"
    )
    assert _choose_method(FakeSession(1), "auto")[0] == "load-data"  # type: ignore[arg-type]
    assert _choose_method(FakeSession(1), "insert")[0] == "insert"  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as refused:
        _choose_method(FakeSession(0), "load-data")  # type: ignore[arg-type]
    assert refused.value.message == "MySQL 8.4.3 has local_infile=OFF, so --method load-data cannot be used"


@pytest.mark.parametrize("errno", [1148, 3948, 4166])
def test_a_server_that_refuses_load_data_mid_way_gets_the_same_rows_as_inserts(errno: int, tmp_path: Path) -> None:
    session = FakeSession(1, refuse_load=errno)
    events: list[Any] = []
    worker = _Worker(
        "events",
        "events_db",
        LoadDataLoader(session, tmp_path),
        {"events": 1, "event_pricing_rules": 0, "outbox_events": 1},
        events.append,
    )  # type: ignore[arg-type]
    chunk = {table.name: [] for table in t.SEED_TABLES}
    chunk["events"] = [
        (
            1,
            "Björk",
            "2026-12-24 20:00:00",
            "Harpa",
            "Reykjavík",
            "concert",
            "x",
            "[]",
            10,
            10,
            "ON_SALE",
            "2026-11-01 10:00:00",
            "2026-10-01 10:00:00",
        )
    ]
    chunk["outbox_events"] = [(1, "event", "EventCreated", '{"eventId": 1}', "2026-10-01 10:00:00", 0)]
    worker._load(chunk)  # type: ignore[arg-type]
    assert isinstance(worker.loader, InsertLoader)
    assert worker.fallback is not None and "Loading local data is disabled" in worker.fallback
    assert [sql.split(" ")[0] for sql in session.statements] == ["LOAD", "INSERT", "INSERT"]
    assert worker.done == {"events": 1, "event_pricing_rules": 0, "outbox_events": 1}
    assert session.commits == 0  # one transaction per database: committed when every chunk is in
    assert [event.table for event in events if isinstance(event, TableProgress)] == [
        "events",
        "event_pricing_rules",
        "outbox_events",
    ]
    assert list(tmp_path.iterdir()) == []  # the file LOAD DATA would have read is gone
