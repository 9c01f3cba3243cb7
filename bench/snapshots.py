"""The data of the snapshot measures: seats, events, their documents and Redis keys, loaded the fastest way.

The data is loaded the fastest way a client has rather than by ``ticketctl
seed`` (whose target is 0.7x of it), so that the rebuild it is compared with is
the quickest a user could do: ``events`` events with ``seats // events`` seats each (LOAD DATA LOCAL
INFILE, the fastest load MySQL offers a client), one document per event sent
to the alias through ``_bulk`` in chunks of 10,000, and ``keys`` seat-lock
keys with a TTL. The rebuild a user would otherwise do (``down --volumes``,
``up``, load the same data) runs this module as a process::

    python -m bench.snapshots load FOLDER EVENTS SEATS KEYS
"""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHUNK = 10_000


@dataclass(frozen=True)
class Data:
    events: int
    seats: int
    keys: int

    @property
    def argv(self) -> list[str]:
        return [str(self.events), str(self.seats), str(self.keys)]

    def describe(self) -> str:
        seats, events, keys = f"{self.seats:,}", f"{self.events:,}", f"{self.keys:,}"
        return f"{seats} seats, {events} events and their {events} documents, {keys} Redis keys"


def _env(folder: Path) -> dict[str, str]:
    lines = (folder / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def _settings(folder: Path) -> dict[str, int]:
    import yaml

    document = yaml.safe_load((folder / "ticketctl.yaml").read_text())
    return {key: int(value) for key, value in document["ports"].items()}


def load(folder: Path, data: Data) -> None:
    import pymysql
    import redis

    secrets, ports = _env(folder), _settings(folder)
    per_event = max(1, data.seats // data.events)
    with tempfile.TemporaryDirectory() as scratch:
        events_file, seats_file = Path(scratch) / "events.tsv", Path(scratch) / "seats.tsv"
        with events_file.open("w") as out:
            for n in range(1, data.events + 1):
                out.write(f"{n}\tEvent {n} São Paulo\t2027-01-{1 + n % 28:02d} 20:00:00\tVenue {n % 500}\t")
                out.write(f"{per_event}\t{per_event}\tON_SALE\n")
        with seats_file.open("w") as out:
            for s in range(data.seats):
                seat_type = "VIP" if s % 10 == 0 else "REGULAR"
                out.write(f"{s // per_event + 1}\t{s % per_event + 1}\tA\t{s % per_event // 20 + 1}\t{seat_type}\t")
                out.write(f"{50 + s % 7}.50\n")
        for key, table, columns, path in (
            (
                "EVENTS",
                "events",
                "event_id, event_name, event_date, venue_name, total_seats, available_seats, status",
                events_file,
            ),
            ("INVENTORY", "seats", "event_id, seat_number, section, `row_number`, seat_type, price", seats_file),
        ):
            connection = pymysql.connect(
                host="127.0.0.1",
                port=ports["mysql"],
                user=f"{key.lower()}_app",
                password=secrets[f"{key}_DB_PASSWORD"],
                database=f"{key.lower()}_db",
                local_infile=True,
                autocommit=True,
            )
            with connection, connection.cursor() as cursor:
                cursor.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} ({columns})", (str(path),))
    client = redis.Redis(port=ports["redis"], password=secrets["REDIS_PASSWORD"])
    pipe = client.pipeline(transaction=False)
    for k in range(data.keys):
        pipe.set(f"seat:{k % 100}:{k}", f"reservation-{k}", px=3_600_000)
        if len(pipe) >= CHUNK:
            pipe.execute()
    pipe.execute()
    lines: list[str] = []
    for n in range(1, data.events + 1):
        lines.append(json.dumps({"index": {"_id": str(n)}}))
        document = {
            "eventId": n,
            "name": f"Event {n} São Paulo",
            "city": "São Paulo",
            "venue": f"Venue {n % 500}",
            "category": "music",
            "date": "2027-01-01T20:00:00Z",
            "minPrice": 50.5,
            "maxPrice": 56.5,
            "availability": "AVAILABLE",
            "availableSeats": per_event,
            "totalSeats": per_event,
        }
        lines.append(json.dumps(document, ensure_ascii=False))
        if len(lines) >= 2 * CHUNK or n == data.events:
            _bulk(ports["search"], ("\n".join(lines) + "\n").encode())
            lines = []
    urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:{ports['search']}/events/_refresh", method="POST"), timeout=300
    ).read()


def _bulk(port: int, body: bytes) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/events/_bulk", data=body, headers={"content-type": "application/x-ndjson"}
    )
    with urllib.request.urlopen(request, timeout=600) as answer:
        result = json.load(answer)
    if result.get("errors"):
        raise RuntimeError(f"_bulk refused documents: {json.dumps(result['items'][:2])[:500]}")


def main(argv: list[str]) -> int:
    if len(argv) != 5 or argv[0] != "load":
        print("usage: python -m bench.snapshots load FOLDER EVENTS SEATS KEYS", file=sys.stderr)
        return 2
    load(Path(argv[1]), Data(int(argv[2]), int(argv[3]), int(argv[4])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
