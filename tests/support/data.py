"""Helpers of the data tests (seed, index sync, migrate from the database): one test's three databases,
their users and settings, and the search side (an alias of its own on a real engine)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ticketctl.config.resources import mappings_dir
from ticketctl.config.settings import Settings, load_settings

if TYPE_CHECKING:
    from tests.support.servers import MySQLServer, SearchServer

KEYS = ("events", "inventory", "bookings")


@dataclass
class DataProject:
    """Three migrated databases with an application user each, named ``<prefix>_<key>``."""

    server: MySQLServer
    prefix: str
    workdir: Path
    passwords: dict[str, str] = field(default_factory=dict)
    search_url: str | None = None
    alias: str | None = None

    def name(self, key: str) -> str:
        return f"{self.prefix}_{key}"

    def user(self, key: str) -> str:
        return f"{self.prefix}_{key[:3]}"

    def create(self) -> None:
        for key in KEYS:
            self.passwords[key] = f"pw-{secrets.token_hex(8)}"
            self.root(f"CREATE USER '{self.user(key)}'@'%%' IDENTIFIED BY %s", (self.passwords[key],))
            self.root(f"GRANT ALL PRIVILEGES ON `{self.name(key)}`.* TO '{self.user(key)}'@'%'")

    def drop(self) -> None:
        for key in KEYS:
            self.root(f"DROP DATABASE IF EXISTS `{self.name(key)}`")
            self.root(f"DROP USER IF EXISTS '{self.user(key)}'@'%'")

    def environ(self) -> dict[str, str]:
        """Settings and secrets as a user would export them."""
        env = {
            "TICKETCTL_MYSQL__HOST": self.server.host,
            "TICKETCTL_MYSQL__PORT": str(self.server.port),
            "TICKETCTL_MYSQL__ROOT_USER": self.server.root_user,
            "TICKETCTL_OUTPUT_DIR": str(self.workdir),
        }
        for key in KEYS:
            env[f"TICKETCTL_MYSQL__{key.upper()}__NAME"] = self.name(key)
            env[f"TICKETCTL_MYSQL__{key.upper()}__USER"] = self.user(key)
            env[f"{key.upper()}_DB_PASSWORD"] = self.passwords[key]
        if self.search_url:
            env["TICKETCTL_SEARCH__URL"] = self.search_url
        if self.alias:
            env["TICKETCTL_SEARCH__INDEX"] = self.alias
        return env

    def settings(self, **extra: str) -> Settings:
        env = self.environ()
        env.update({f"TICKETCTL_{key.upper().replace('.', '__')}": value for key, value in extra.items()})
        return load_settings(None, environ=env, cwd=self.workdir)

    @property
    def secrets(self) -> dict[str, str]:
        return {f"{key.upper()}_DB_PASSWORD": self.passwords[key] for key in KEYS}

    def migrate(self, target: int | None = None) -> None:
        from ticketctl.migrations import migrate

        report = migrate(self.settings(), self.secrets, target=target)
        assert report.ok, report.as_dict()

    # ---------------------------------------------------------------- SQL as root

    def connect(self, database: str | None = None) -> Any:
        return self.server.connect(database=database)

    def root(self, sql: str, args: Any = None, database: str | None = None) -> list[tuple[Any, ...]]:
        with self.connect(database) as connection, connection.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())

    def query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        """SQL across the three databases: ``{events}``, ``{inventory}``, ``{bookings}`` name them."""
        return self.root(sql.format(**{key: f"`{self.name(key)}`" for key in KEYS}), args)

    def scalar(self, sql: str, args: Any = None) -> Any:
        return self.query(sql, args)[0][0]

    def dump(self, key: str, table: str, *, without: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        """Every row of a table, in primary-key order, without the named columns."""
        columns = [
            row[0]
            for row in self.root(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "ORDER BY ordinal_position",
                (self.name(key), table),
            )
            if row[0] not in without
        ]
        keys = [
            row[0]
            for row in self.root(
                "SELECT column_name FROM information_schema.key_column_usage WHERE table_schema = %s "
                "AND table_name = %s AND constraint_name = 'PRIMARY' ORDER BY ordinal_position",
                (self.name(key), table),
            )
        ]
        order = ", ".join(f"`{name}`" for name in (keys if not set(keys) & set(without) else columns))
        select = ", ".join(f"`{name}`" for name in columns)
        return self.root(f"SELECT {select} FROM `{table}` ORDER BY {order}", database=self.name(key))


@dataclass
class SearchSide:
    server: SearchServer
    alias: str
    mapping: Path

    @property
    def engine(self) -> str:
        return self.server.name

    def documents(self) -> dict[int, tuple[int, dict[str, Any]]]:
        """``{id: (version, source)}`` of every document behind the alias, read over plain HTTP."""
        self.server.ok("POST", f"/{self.alias}/_refresh")
        found: dict[int, tuple[int, dict[str, Any]]] = {}
        answer = self.server.ok(
            "POST", f"/{self.alias}/_search?scroll=1m", {"size": 2000, "version": True, "sort": ["_doc"]}
        )
        while answer["hits"]["hits"]:
            for hit in answer["hits"]["hits"]:
                found[int(hit["_id"])] = (int(hit["_version"]), hit["_source"])
            answer = self.server.ok("POST", "/_search/scroll", {"scroll": "1m", "scroll_id": answer["_scroll_id"]})
        self.server.request("DELETE", "/_search/scroll", {"scroll_id": [answer["_scroll_id"]]})
        return found

    def search(self, query: dict[str, Any]) -> list[int]:
        self.server.ok("POST", f"/{self.alias}/_refresh")
        answer = self.server.ok("POST", f"/{self.alias}/_search", {"query": query, "size": 100})
        return sorted(int(hit["_id"]) for hit in answer["hits"]["hits"])

    def target(self) -> str:
        return str(next(iter(self.server.ok("GET", f"/_alias/{self.alias}"))))


def mapping_variant(folder: Path, name: str, *edits: Any) -> Path:
    """A copy of the packaged mapping changed by each ``edit(document)``."""
    document = json.loads((mappings_dir() / "events.json").read_text(encoding="utf-8"))
    for edit in edits:
        edit(document)
    path = folder / name
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def availability(status: str | None, available: int, total: int) -> str:
    """The rule of docs/data.md, written again here so that the tests do not check the code with itself."""
    if status == "CANCELLED":
        return "CANCELLED"
    if status == "SOLD_OUT" or available <= 0:
        return "SOLD_OUT"
    if status in (None, "UPCOMING"):
        return "UPCOMING"
    return "LIMITED" if available * 10 <= total else "AVAILABLE"


def expected_documents(project: DataProject) -> dict[int, dict[str, Any]]:
    """What the index must hold for every event, computed with SQL from the database as it is now."""
    rows = project.query(
        "SELECT e.event_id, e.event_name, e.city, e.venue_name, e.category, "
        "DATE_FORMAT(e.event_date, '%Y-%m-%dT%H:%i:%sZ'), p.low, p.high, e.status, e.available_seats, "
        "e.total_seats, e.description, e.tags FROM {events}.events e LEFT JOIN ("
        "SELECT event_id, MIN(price) AS low, MAX(price) AS high FROM {events}.event_pricing_rules "
        "WHERE is_active GROUP BY event_id) p ON p.event_id = e.event_id"
    )
    documents = {}
    for event_id, name, city, venue, category, when, low, high, status, available, total, text, tags in rows:
        documents[int(event_id)] = {
            "eventId": int(event_id),
            "name": name,
            "city": city,
            "venue": venue,
            "category": category,
            "date": when,
            "minPrice": None if low is None else float(low),
            "maxPrice": None if high is None else float(high),
            "availability": availability(status, int(available), int(total)),
            "availableSeats": int(available),
            "totalSeats": int(total),
            "description": text,
            "tags": json.loads(tags) if tags is not None else [],
        }
    return documents


class EventWriter:
    """Changes events the way the events service must: the event row first, then its outbox row, one transaction.

    Each method is one transaction and returns the outbox id it wrote.
    """

    def __init__(self, project: DataProject, *, seed: int = 0):
        import random

        self.connection = project.connect(project.name("events"))
        self.connection.autocommit(False)
        self.random = random.Random(seed)
        self.counter = 0

    def close(self) -> None:
        self.connection.close()

    def _outbox(self, cursor: Any, event_id: int, event_type: str) -> int:
        cursor.execute(
            "INSERT INTO outbox_events (aggregate_id, aggregate_type, event_type, payload) "
            "VALUES (%s, 'event', %s, JSON_OBJECT('eventId', %s))",
            (event_id, event_type, event_id),
        )
        self.connection.commit()
        return int(cursor.lastrowid)

    def update(self, event_id: int) -> int:
        self.counter += 1
        with self.connection.cursor() as cursor:
            cursor.execute(
                "UPDATE events SET event_name = %s, available_seats = GREATEST(available_seats - 1, 0) "
                "WHERE event_id = %s",
                (f"Renamed Björk night {self.counter}", event_id),
            )
            return self._outbox(cursor, event_id, "EventUpdated")

    def reprice(self, event_id: int) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT event_id FROM events WHERE event_id = %s FOR UPDATE", (event_id,))
            cursor.execute(
                "UPDATE event_pricing_rules SET price = price + 1 WHERE event_id = %s AND seat_type = 'VIP'",
                (event_id,),
            )
            return self._outbox(cursor, event_id, "EventRepriced")

    def create(self, city: str = "Zürich", name: str = "Café Tacvba en Zürich") -> tuple[int, int]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO events (event_name, event_date, venue_name, city, category, description, tags, "
                "total_seats, available_seats, status) VALUES (%s, '2027-02-01 20:00:00', 'Hallenstadion', %s, "
                "'concert', 'Neu im Programm', '[\"new\"]', 100, 100, 'ON_SALE')",
                (name, city),
            )
            event_id = int(cursor.lastrowid)
            cursor.execute(
                "INSERT INTO event_pricing_rules (event_id, rule_name, seat_type, price) VALUES (%s, 'Standard', "
                "'REGULAR', 40.00)",
                (event_id,),
            )
            return event_id, self._outbox(cursor, event_id, "EventCreated")

    def delete(self, event_id: int) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute("DELETE FROM events WHERE event_id = %s", (event_id,))
            return self._outbox(cursor, event_id, "EventDeleted")

    def random_change(self, event_ids: list[int]) -> int:
        """An update (most often), a new price, a new event, or a deletion; ``event_ids`` follows along."""
        roll = self.random.random()
        if roll < 0.03 and len(event_ids) > 10:
            return self.delete(event_ids.pop(self.random.randrange(len(event_ids))))
        if roll < 0.08:
            event_id, row = self.create()
            event_ids.append(event_id)
            return row
        if roll < 0.25:
            return self.reprice(self.random.choice(event_ids))
        return self.update(self.random.choice(event_ids))


class Followers:
    """``index sync --follow`` in threads (one or several at once), stopped and checked by the test.

    ``drain`` waits until the outbox has no unprocessed row (or a follower failed); leaving the
    ``with`` block stops them and joins them.
    """

    def __init__(self, project: DataProject, count: int = 1, **options: Any):
        import threading

        self.project = project
        self.stop = threading.Event()
        self.results: list[Any] = []
        self.errors: list[BaseException] = []
        self.events: list[Any] = []
        self.options = {"interval": 0.05, **options}
        self.threads = [threading.Thread(target=self._follow) for _ in range(count)]

    def _follow(self) -> None:
        from ticketctl.search.sync import sync_outbox

        try:
            self.results.append(
                sync_outbox(
                    self.project.settings(),
                    self.project.secrets,
                    follow=True,
                    stop=self.stop,
                    on_event=self.events.append,
                    **self.options,
                )
            )
        except BaseException as error:
            self.errors.append(error)

    def unprocessed(self) -> int:
        return int(self.project.scalar("SELECT COUNT(*) FROM {events}.outbox_events WHERE processed = FALSE"))

    def drain(self, timeout: float = 120) -> None:
        import time

        deadline = time.monotonic() + timeout
        while self.unprocessed() and not self.errors:
            assert time.monotonic() < deadline, f"the followers did not drain the outbox in {timeout:g}s"
            time.sleep(0.1)

    def __enter__(self) -> Followers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
