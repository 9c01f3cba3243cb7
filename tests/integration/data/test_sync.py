"""``index sync`` (full and from the outbox) and ``index migrate`` from the database, on both engines.

Every check of the index reads it over plain HTTP and compares it, document by document,
with what SQL computes from the database (``tests/support/data.expected_documents``).
"""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import pytest

from tests.support.cli import invoke
from tests.support.data import (
    DataProject,
    EventWriter,
    Followers,
    SearchSide,
    expected_documents,
    mapping_variant,
)
from ticketctl.data.sample import SeedOptions
from ticketctl.data.seed import seed
from ticketctl.errors import ExitCode
from ticketctl.search import migrate_index
from ticketctl.search.results import IndexEvent
from ticketctl.search.sync import SyncMismatchError, sync_full, sync_outbox

pytestmark = pytest.mark.integration

START = date(2026, 12, 1)
# Writers of the reindex test: each commits one change at a time; together they keep the outbox above
# 100 rows a second even when a loaded machine makes a commit take 30 ms.
WRITERS = 6


def _seed(project: DataProject, events: int, seats: int = 10) -> None:
    seed(project.settings(), project.secrets, SeedOptions(seed=11, events=events, seats_per_event=seats, start=START))


def _assert_index_equals_database(project: DataProject, search: SearchSide) -> dict[int, tuple[int, dict[str, Any]]]:
    documents = search.documents()
    expected = expected_documents(project)
    assert sorted(documents) == sorted(expected), "documents missing or extra"
    stale = [event_id for event_id, (_, source) in documents.items() if source != expected[event_id]]
    assert stale == [], f"stale documents: {stale[:5]}, e.g. {documents[stale[0]][1]} != {expected[stale[0]]}"
    return documents


def _last_outbox_ids(project: DataProject) -> dict[int, int]:
    return dict(project.query("SELECT aggregate_id, MAX(id) FROM {events}.outbox_events GROUP BY aggregate_id"))


def test_full_sync_counts_every_event_and_finds_one_by_its_accented_city_and_name(
    indexed: tuple[DataProject, SearchSide],
) -> None:
    project, search = indexed
    _seed(project, 150)
    result = sync_full(project.settings(), project.secrets)

    assert (result.copy.events, result.copy.check.documents, result.copy.check.ok) == (150, 150, True)
    assert result.marked_processed == 150
    assert project.scalar("SELECT COUNT(*) FROM {events}.outbox_events WHERE processed = FALSE") == 0
    _assert_index_equals_database(project, search)
    in_sao_paulo = sorted(
        row[0] for row in project.query("SELECT event_id FROM {events}.events WHERE city = 'São Paulo'")
    )
    assert in_sao_paulo and search.search({"term": {"city": "São Paulo"}}) == in_sao_paulo
    bjork = sorted(
        row[0] for row in project.query("SELECT event_id FROM {events}.events WHERE event_name LIKE 'Björk%'")
    )
    assert bjork and search.search({"match": {"name": "Björk"}}) == bjork
    assert search.search({"match": {"name": "bjork"}}) == bjork  # the analyzer folds accents


def test_incremental_sync_applies_inserts_updates_prices_and_deletes_through_the_outbox(
    indexed: tuple[DataProject, SearchSide],
) -> None:
    project, search = indexed
    _seed(project, 30)
    first = sync_outbox(project.settings(), project.secrets)
    assert (first.rows, first.counts.indexed, first.skipped) == (30, 30, [])
    writer = EventWriter(project)
    try:
        created, _ = writer.create()
        writer.update(3)
        writer.update(3)
        writer.reprice(4)
        writer.delete(5)
    finally:
        writer.close()

    second = sync_outbox(project.settings(), project.secrets)
    assert (second.rows, second.counts.indexed, second.counts.deleted) == (5, 3, 1)  # two rows of event 3: one write
    documents = _assert_index_equals_database(project, search)
    assert 5 not in documents and documents[created][1]["city"] == "Zürich"
    assert documents[3][1]["name"] == "Renamed Björk night 2"
    last = _last_outbox_ids(project)
    assert {event_id: version for event_id, (version, _) in documents.items()} == {e: last[e] for e in documents}
    assert project.scalar("SELECT COUNT(*) FROM {events}.outbox_events WHERE processed = FALSE") == 0
    assert sync_outbox(project.settings(), project.secrets).rows == 0


def test_two_syncs_at_once_under_a_writer_lose_and_duplicate_nothing(indexed: tuple[DataProject, SearchSide]) -> None:
    project, search = indexed
    _seed(project, 80)
    event_ids = list(range(1, 81))
    with Followers(project, count=2, batch=20) as syncs:
        writer = EventWriter(project, seed=5)
        try:
            written = [writer.random_change(event_ids) for _ in range(1200)]
        finally:
            writer.close()
        syncs.drain()
    assert syncs.errors == []
    assert len(written) == 1200
    results = syncs.results
    # Every row applied exactly once, by one of the two; both took part.
    assert sum(result.rows for result in results) == 80 + 1200
    assert all(result.rows > 0 for result in results), [result.rows for result in results]
    documents = _assert_index_equals_database(project, search)
    last = _last_outbox_ids(project)
    # Each document was last written by the last outbox row of its event: nothing applied out of order.
    assert {event_id: version for event_id, (version, _) in documents.items()} == {e: last[e] for e in documents}


def test_a_reindex_under_a_writer_and_a_follower_ends_with_every_event_at_its_latest_version(
    indexed: tuple[DataProject, SearchSide],
) -> None:
    project, search = indexed
    _seed(project, 6000, seats=4)
    sync_full(project.settings(), project.secrets)
    old_index = search.target()
    event_ids = list(range(1, 6001))
    stop_writer = threading.Event()
    written: list[tuple[float, int]] = []
    errors: list[BaseException] = []

    def write(number: int) -> None:
        """One of the writers, each on its own events (a share of them, and those it creates)."""
        writer = EventWriter(project, seed=number)
        own = [event_id for event_id in event_ids if event_id % WRITERS == number]
        try:
            while not stop_writer.is_set():
                written.append((time.monotonic(), writer.random_change(own)))
        except BaseException as error:
            errors.append(error)
        finally:
            writer.close()

    marks: dict[str, float] = {}

    def on_event(event: IndexEvent) -> None:
        if event.message.startswith("copying"):
            marks["copy"] = time.monotonic()
        if event.message.startswith("holding the outbox still"):
            marks["caught up"] = time.monotonic()

    changed = mapping_variant(
        project.workdir,
        "changed.json",
        lambda document: document["mappings"]["properties"]["description"].update(analyzer="standard"),
    )
    with Followers(project, interval=0.1) as follower:
        writers = [threading.Thread(target=write, args=(number,)) for number in range(WRITERS)]
        for thread in writers:
            thread.start()
        time.sleep(0.5)
        try:
            result = migrate_index(
                project.settings(), project.secrets, mapping_path=changed, reindex=True, on_event=on_event
            )
        finally:
            time.sleep(0.5)
            stop_writer.set()
            for thread in writers:
                thread.join(timeout=30)
        follower.drain()
    assert errors == [] and follower.errors == []

    assert (result.action, result.source, result.from_index) == ("reindexed", "database", old_index)
    assert search.target() == result.to_index != old_index
    during = [row for moment, row in written if marks["copy"] <= moment <= marks["caught up"]]
    seconds = marks["caught up"] - marks["copy"]
    assert len(during) / seconds >= 100, f"{len(during)} outbox rows in {seconds:.2f}s of copy"
    assert result.copy is not None and result.copy["caught_up_rows"] >= len(during)
    documents = _assert_index_equals_database(project, search)
    last = _last_outbox_ids(project)
    assert all(version >= last.get(event_id, 0) for event_id, (version, _) in documents.items())
    blocked = search.server.ok("GET", f"/{old_index}/_settings?flat_settings=true")[old_index]["settings"]
    assert blocked.get("index.blocks.write") == "true"


def test_the_swap_is_refused_when_the_new_version_does_not_match_the_database_unless_forced(
    indexed: tuple[DataProject, SearchSide],
) -> None:
    project, search = indexed
    _seed(project, 40)
    sync_full(project.settings(), project.secrets)
    old_index = search.target()

    events: list[IndexEvent] = []

    def write_behind_the_outbox(event: IndexEvent) -> None:
        events.append(event)
        # A writer that breaks the contract: an event without an outbox row, after the snapshot.
        if event.message.startswith("holding the outbox still"):
            project.root(
                "INSERT INTO events (event_name, event_date, total_seats, available_seats) "
                "VALUES ('Unannounced', '2027-03-01 20:00:00', 5, 5)",
                database=project.name("events"),
            )

    with pytest.raises(SyncMismatchError) as refused:
        migrate_index(
            project.settings(),
            project.secrets,
            mapping_path=search.mapping,
            rebuild=True,
            on_event=write_behind_the_outbox,
        )
    assert f"{search.alias}_v2 does not match the events database: 40 documents for 41 events" in refused.value.message
    assert refused.value.message.endswith("the alias was not moved")
    assert refused.value.exit_code == ExitCode.DRIFT
    assert search.target() == old_index

    events.clear()
    forced = migrate_index(
        project.settings(),
        project.secrets,
        mapping_path=search.mapping,
        rebuild=True,
        force=True,
        on_event=write_behind_the_outbox,
    )
    assert forced.action == "reindexed" and search.target() == forced.to_index == f"{search.alias}_v3"
    assert forced.copy is not None and forced.copy["check"]["ok"] is False
    assert [e.message for e in events if e.kind == "warning"] == [
        f"{search.alias}_v3 differs from the database (41 documents for 42 events): swapped (--force)"
    ]


def test_a_follower_keeps_its_rows_while_the_index_is_write_blocked(indexed: tuple[DataProject, SearchSide]) -> None:
    """``--source index`` write-blocks the current version while it copies: the follower must keep its rows
    unprocessed meanwhile and apply them afterwards (through the alias, to whichever version it points at)."""
    project, search = indexed
    _seed(project, 300)
    sync_full(project.settings(), project.secrets)
    writer = EventWriter(project, seed=2)
    event_ids = list(range(1, 301))
    old_index = search.target()
    with Followers(project) as follower:
        try:
            search.server.ok("PUT", f"/{old_index}/_settings", {"index": {"blocks.write": True}})  # as the copy does
            blocked = [writer.random_change(event_ids) for _ in range(30)]
            deadline = time.monotonic() + 30
            while not any("write-blocked" in event.message for event in follower.events):
                assert time.monotonic() < deadline, "the follower did not notice the block"
                time.sleep(0.1)
            assert follower.unprocessed() >= 1
            search.server.ok("PUT", f"/{old_index}/_settings", {"index": {"blocks.write": None}})
            if search.engine == "OpenSearch":  # a real copy from the index (the Elasticsearch test zip has no _reindex)
                two_shards = project.settings(**{"search.shards": "2"})
                result = migrate_index(two_shards, {}, mapping_path=search.mapping, reindex=True, source="index")
                assert result.action == "reindexed" and search.target() == result.to_index
            blocked += [writer.random_change(event_ids) for _ in range(30)]
        finally:
            writer.close()
        follower.drain(timeout=60)
    assert follower.errors == [] and len(blocked) == 60
    _assert_index_equals_database(project, search)


# ---------------------------------------------------------------------------------------- bad input


def _cli(project: DataProject, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in project.environ().items():
        monkeypatch.setenv(name, value)


def test_sync_of_an_alias_that_does_not_exist_is_one_line(
    migrated: DataProject, search: SearchSide, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated.search_url, migrated.alias = search.server.url, search.alias
    _cli(migrated, monkeypatch)
    result = invoke(capsys, ["index", "sync"])
    assert result.exit_code == ExitCode.MISSING
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: alias {search.alias} does not exist on ")
    assert result.stderr.endswith(f" — create it with 'ticketctl index create --index {search.alias}'\n")


def test_an_index_whose_mapping_lacks_a_projected_field_is_refused(
    migrated: DataProject, search: SearchSide, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ticketctl.search import create_index

    def drop_tags(document: dict[str, Any]) -> None:
        del document["mappings"]["properties"]["tags"]

    lacking = mapping_variant(migrated.workdir, "no-tags.json", drop_tags)
    migrated.search_url, migrated.alias = search.server.url, search.alias
    create_index(migrated.settings(), {}, mapping_path=lacking)
    _cli(migrated, monkeypatch)
    result = invoke(capsys, ["index", "sync", "--full"])
    assert result.exit_code == ExitCode.DRIFT
    assert result.stderr == (
        f"error: {search.alias}_v1 (alias {search.alias}) maps no field 'tags', which every document has: the server "
        "would guess its type — compare the index with the mapping file ('ticketctl index diff') and apply it "
        "('ticketctl index migrate')\n"
    )
    migrate = invoke(capsys, ["index", "migrate", "--rebuild", "--mapping", str(lacking)])
    assert migrate.exit_code == ExitCode.CONFIG
    # Before it, only the note naming the settings file (index migrate changes something).
    first = next(line for line in migrate.stderr.splitlines() if not line.startswith("note: "))
    assert first.startswith(f"error: {lacking}:")
    assert "the mapping has no field 'tags', which every document of an event has" in migrate.stderr
    assert [index for index in search.server.ok("GET", f"/_cat/indices/{search.alias}*?format=json")] != []
    assert search.server.request("GET", f"/{search.alias}_v2").status == 404  # refused before anything was created


def test_an_outbox_row_with_invalid_json_is_skipped_named_counted_and_kept(
    indexed: tuple[DataProject, SearchSide], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, search = indexed
    _seed(project, 10)
    # MariaDB's JSON is LONGTEXT with a JSON_VALID check; with the check off, any text gets in.
    connection = project.connect(project.name("events"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION check_constraint_checks = 0")
            cursor.execute(
                "INSERT INTO outbox_events (aggregate_id, aggregate_type, event_type, payload) "
                "VALUES (4, 'event', 'EventUpdated', '{not json')"
            )
            bad = int(cursor.lastrowid)
    finally:
        connection.close()
    _cli(project, monkeypatch)
    result = invoke(capsys, ["index", "sync"])
    assert result.exit_code == ExitCode.WARNINGS
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: outbox row {bad} (event 4) skipped and left unprocessed: payload is not valid JSON (Expecting "
        "property name enclosed in double quotes: line 1 column 2 (char 1)): '{not json' — fix its payload, or "
        f"UPDATE outbox_events SET processed = TRUE WHERE id = {bad} to drop it"
    ]
    assert "10 indexed" in result.stdout and "1 unusable rows skipped and left unprocessed" in result.stdout
    assert project.query("SELECT id FROM {events}.outbox_events WHERE processed = FALSE") == [(bad,)]
    assert len(search.documents()) == 10


def test_sync_of_a_database_that_is_not_migrated_is_one_line(
    project: DataProject, search: SearchSide, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ticketctl.search import create_index

    project.migrate(target=1)
    project.search_url, project.alias = search.server.url, search.alias
    create_index(project.settings(), {}, mapping_path=search.mapping)
    _cli(project, monkeypatch)
    result = invoke(capsys, ["index", "sync"])
    assert result.exit_code == ExitCode.PENDING
    assert result.stderr == (
        f"error: {project.name('events')}: column events.city does not exist: V002 is not applied — run "
        "'ticketctl migrate' ('ticketctl migrate status' lists what is pending)\n"
    )
