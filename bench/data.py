"""The data sections of ``bench/run``: ``seed`` and ``index sync --full`` beside their practical limits.

- ``seed``: ``ticketctl seed`` (LOAD DATA LOCAL INFILE through PyMySQL, and ``--method insert``)
  into fresh, migrated databases, beside the ``mariadb`` client loading the same rows with
  ``LOAD DATA LOCAL INFILE`` from tab-separated files written beforehand (untimed): three
  client processes side by side, one per database, one statement per table, in the same
  session settings as ticketctl's (strict ``sql_mode``, UTC, ``foreign_key_checks = 0``).
- ``sync``: ``ticketctl index sync --full`` of the seeded events into an empty index, beside
  ``curl`` posting the same documents, pre-built as NDJSON (untimed) in ticketctl's chunks, to
  ``_bulk``, then a refresh and a count (as ticketctl's check does), on the test OpenSearch
  (one engine: what is measured is ticketctl's side of the bulk API).

Every sample starts from the same state (fresh databases, a fresh index), and every sample
is checked afterwards: each table holds the rows it should, the index the documents.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import migrations as mig
from bench.measure import Command, Sample, run

if TYPE_CHECKING:
    from bench.main import Config, Environment, Measure, Results, Series

SEED_START = date(2026, 12, 1)
SEED_NUMBER = 1
SESSION_SQL = (
    "SET SESSION sql_mode = 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00', foreign_key_checks = 0;"
)


def log(message: str) -> None:
    from bench.main import log as main_log

    main_log(message)


def versions() -> dict[str, str]:
    mariadb = subprocess.run(["mariadb", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False).stdout
    return {"mariadb client": mariadb, "curl": curl.splitlines()[0] if curl else "?"}


# --------------------------------------------------------------------------- databases


def database_settings(dbs: mig.Databases) -> dict[str, str]:
    settings = {"TICKETCTL_MYSQL__HOST": dbs.server.host, "TICKETCTL_MYSQL__PORT": str(dbs.server.port)}
    for key in mig.DATABASE_KEYS:
        settings[f"TICKETCTL_MYSQL__{key.upper()}__NAME"] = dbs.name(key)
        settings[f"TICKETCTL_MYSQL__{key.upper()}__USER"] = dbs.user(key)
        settings[f"{key.upper()}_DB_PASSWORD"] = dbs.password(key)
    return settings


def secrets_of(dbs: mig.Databases) -> list[str]:
    return [dbs.password(key) for key in mig.DATABASE_KEYS]


def fresh(env: Environment, dbs: mig.Databases, folder: Path) -> None:
    """Empty databases at the repository's schemas (untimed)."""
    dbs.recreate()
    run([env.command([env.ticketctl, "migrate"], folder, settings=database_settings(dbs), secrets=secrets_of(dbs))])


def row_counts(dbs: mig.Databases) -> dict[str, int]:
    from ticketctl.data.tables import SEED_TABLES

    counts = {}
    with dbs.server.root() as cursor:
        for table in SEED_TABLES:
            cursor.execute(f"SELECT COUNT(*) FROM `{dbs.name(table.database)}`.`{table.name}`")
            counts[table.name] = int(cursor.fetchone()[0])
    return counts


# --------------------------------------------------------------------------- seed


def write_tsv(folder: Path, events: int, seats: int) -> dict[str, int]:
    """The rows of the seed as LOAD DATA's text files, one per table (the peer's input); returns the counts."""
    from ticketctl.data.load import tsv
    from ticketctl.data.sample import SeedOptions, generate
    from ticketctl.data.tables import SEED_TABLES

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    options = SeedOptions(seed=SEED_NUMBER, events=events, seats_per_event=seats, start=SEED_START)
    counts = {table.name: 0 for table in SEED_TABLES}
    files = {table.name: (folder / f"{table.name}.tsv").open("wb") for table in SEED_TABLES}
    try:
        for chunk in generate(options):
            for table in SEED_TABLES:
                files[table.name].write(tsv(table, chunk[table.name]))
                counts[table.name] += len(chunk[table.name])
    finally:
        for handle in files.values():
            handle.close()
    return counts


def mariadb_commands(env: Environment, dbs: mig.Databases, folder: Path) -> list[Command]:
    """One ``mariadb`` client per database, each loading its tables' files, side by side."""
    from ticketctl.data.tables import SEED_TABLES

    commands = []
    for key in mig.DATABASE_KEYS:
        statements = [SESSION_SQL]
        for table in (table for table in SEED_TABLES if table.database == key):
            statements.append(
                f"LOAD DATA LOCAL INFILE '{folder / (table.name + '.tsv')}' INTO TABLE `{table.name}` CHARACTER SET "
                f"utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' {table.column_list};"
            )
        argv: list[str | Path] = [
            "mariadb",
            "--local-infile=1",
            f"--host={dbs.server.host}",
            f"--port={dbs.server.port}",
            f"--user={dbs.user(key)}",
            f"--database={dbs.name(key)}",
            "-e",
            " ".join(statements),
        ]
        command = env.command(argv, folder, settings={"MYSQL_PWD": dbs.password(key)}, secrets=[dbs.password(key)])
        commands.append(command)
    return commands


def section_seed(cfg: Config, results: Results, env: Environment) -> None:
    from bench.main import rounds

    events, seats = cfg.seed_size
    folder = cfg.work / "seed"
    folder.mkdir(parents=True, exist_ok=True)
    log(f"seed: writing the peer's files for {events} events × {seats} seats (untimed)")
    expected = write_tsv(folder / "tsv", events, seats)
    rows = sum(expected.values())
    results.versions.update(versions())
    measure = results.measure(
        "seed.load",
        f"`ticketctl seed`, {events} events × {seats} seats = {events * seats:,} seats, {rows:,} rows in 9 tables of 3 "
        "databases, fresh migrated databases",
        "rows/s ≥ 0.7× the `mariadb` client's LOAD DATA LOCAL INFILE of the same rows",
        "ticketctl",
        "seed",
    )
    ours, insert, peer = (mig.Databases(env.server, cfg.prefix, tool) for tool in ("sd", "si", "sp"))
    seed_args = ["seed", "--seed", str(SEED_NUMBER), "--events", str(events), "--seats-per-event", str(seats)]
    seed_args += ["--start", SEED_START.isoformat(), "--json"]

    def ticketctl(dbs: mig.Databases, *extra: str) -> list[Command]:
        argv: list[str | Path] = [env.ticketctl, *seed_args, *extra]
        return [env.command(argv, folder, settings=database_settings(dbs), secrets=secrets_of(dbs))]

    entries = [
        _seed_entry(
            measure,
            "ticketctl",
            "ticketctl",
            "ticketctl seed (LOAD DATA LOCAL INFILE)",
            env,
            ours,
            folder,
            ticketctl(ours),
            expected,
        ),
        _seed_entry(
            measure,
            "ticketctl-insert",
            "ticketctl",
            "ticketctl seed --method insert",
            env,
            insert,
            folder,
            ticketctl(insert, "--method", "insert"),
            expected,
        ),
        _seed_entry(
            measure,
            "mariadb",
            "mariadb client",
            "mariadb --local-infile=1 -e 'LOAD DATA LOCAL INFILE …', 3 processes side by side",
            env,
            peer,
            folder,
            mariadb_commands(env, peer, folder / "tsv"),
            expected,
        ),
    ]
    rounds(cfg.runs_data, entries, warmup=False)


def _seed_entry(
    measure: Measure,
    key: str,
    tool: str,
    label: str,
    env: Environment,
    dbs: mig.Databases,
    folder: Path,
    commands: list[Command],
    expected: dict[str, int],
) -> tuple[Series, Callable[[], Sample]]:
    series = measure.add(key, tool, label, [command.display for command in commands])
    rows = sum(expected.values())

    def once() -> Sample:
        fresh(env, dbs, folder)
        sample, finished = run(commands)
        counts = row_counts(dbs)
        if counts != expected:
            raise RuntimeError(f"{label}: rows after the load {counts} differ from the seed's {expected}")
        if tool == "ticketctl":
            summary = json.loads(finished[0].output[finished[0].output.index("{") :])
            sample.extra["method_is_insert"] = float(summary["method"] == "insert")
        sample.extra["rows"] = float(rows)
        sample.extra["rows_per_second"] = rows / sample.seconds
        return sample

    return series, once


# --------------------------------------------------------------------------- sync


def _http(url: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


def _delete_versions(url: str, alias: str) -> None:
    try:
        listing = _http(url, "GET", f"/_cat/indices/{alias}_v*?format=json&h=index")
    except urllib.error.HTTPError:
        return
    for row in listing or []:
        _http(url, "DELETE", f"/{row['index']}")


def write_ndjson(env: Environment, dbs: mig.Databases, folder: Path) -> int:
    """ticketctl's documents of every event, as ticketctl sends them (chunks, versions), in files; returns the count."""
    from ticketctl.clients.mysql import Credentials, connect
    from ticketctl.config.settings import load_settings
    from ticketctl.search.sync import document_chunks

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    settings = load_settings(None, environ=database_settings(dbs))
    database = settings.mysql.database("events")
    credentials = Credentials(database.user, dbs.password("events"), "EVENTS_DB_PASSWORD")
    count = 0
    with connect(settings.mysql, credentials, database=database.name) as session:
        for number, (actions, body) in enumerate(document_chunks(session, 1)):
            (folder / f"chunk-{number:05d}.ndjson").write_bytes(body)
            count += len(actions)
    return count


def section_sync(cfg: Config, results: Results, env: Environment) -> None:
    from bench.main import rounds

    url = os.environ.get("TICKETCTL_TEST_OPENSEARCH_URL", "").rstrip("/")
    try:
        opensearch = _http(url, "GET", "/")["version"]["number"]
    except (OSError, ValueError, KeyError) as error:
        raise RuntimeError(
            f"sync: no OpenSearch at TICKETCTL_TEST_OPENSEARCH_URL={url!r} ({error}): run scripts/test-services up"
        ) from error
    events = cfg.sync_events
    folder = cfg.work / "sync"
    folder.mkdir(parents=True, exist_ok=True)
    dbs = mig.Databases(env.server, cfg.prefix, "sy")
    alias, peer_alias = f"{cfg.prefix}-sync", f"{cfg.prefix}-sync-peer"
    settings = {**database_settings(dbs), "TICKETCTL_SEARCH__URL": url, "TICKETCTL_SEARCH__INDEX": alias}
    peer_settings = {**settings, "TICKETCTL_SEARCH__INDEX": peer_alias}
    log(f"sync: seeding {events} events and writing the peer's NDJSON (untimed)")
    fresh(env, dbs, folder)
    seed = [env.ticketctl, "seed", "--events", str(events), "--seats-per-event", "1", "--start", SEED_START.isoformat()]
    run([env.command(seed, folder, settings=settings, secrets=secrets_of(dbs))])
    chunks = folder / "ndjson"
    documents = write_ndjson(env, dbs, chunks)
    results.versions.update(versions())
    results.versions["OpenSearch (sync)"] = opensearch
    measure = results.measure(
        "sync.full",
        f"`ticketctl index sync --full`, {documents:,} events into an empty index (OpenSearch, 1 shard)",
        "documents/s ≥ 0.8× `curl` posting the same documents, pre-built as NDJSON, to `_bulk`",
        "ticketctl",
        "index sync --full",
    )
    create = [env.command([env.ticketctl, "index", "create"], folder, settings=s) for s in (settings, peer_settings)]
    script = (
        f'for f in "{chunks}"/chunk-*.ndjson; do curl -sS -f -o /dev/null -H "Content-Type: application/x-ndjson" '
        f'--data-binary "@$f" "{url}/{peer_alias}/_bulk" || exit 1; done; '
        f'curl -sS -f -o /dev/null -X POST "{url}/{peer_alias}/_refresh" && curl -sS -f "{url}/{peer_alias}/_count"'
    )
    ours = [
        env.command(
            [env.ticketctl, "index", "sync", "--full", "--json"], folder, settings=settings, secrets=secrets_of(dbs)
        )
    ]
    peer = [env.command(["bash", "-c", script], folder)]

    def entry(key: str, tool: str, label: str, commands: list[Command], index: str, setup: Command) -> Any:
        series = measure.add(key, tool, label, [command.display for command in commands])

        def once() -> Sample:
            _delete_versions(url, index)
            run([setup])
            sample, _ = run(commands)
            _http(url, "POST", f"/{index}/_refresh")
            count = int(_http(url, "GET", f"/{index}/_count")["count"])
            if count != documents:
                raise RuntimeError(f"{label}: {count} documents after the sync, expected {documents}")
            sample.extra["documents"] = float(documents)
            sample.extra["documents_per_second"] = documents / sample.seconds
            return sample

        return series, once

    entries = [
        entry("ticketctl", "ticketctl", "ticketctl index sync --full", ours, alias, create[0]),
        entry(
            "curl",
            "curl",
            f"curl … _bulk, {len(list(chunks.iterdir()))} requests of ≤ 5000 pre-built documents",
            peer,
            peer_alias,
            create[1],
        ),
    ]
    try:
        rounds(cfg.runs_data, entries, warmup=True)
    finally:
        if not cfg.keep:
            for index in (alias, peer_alias):
                _delete_versions(url, index)
