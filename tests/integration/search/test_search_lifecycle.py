"""The whole index lifecycle, on each engine of the test servers, with the packaged mapping.

Every test runs on OpenSearch 3.6.0 and on Elasticsearch 8.19.21 (the integ-test-zip
with ticketctl's analysis plugin), except those that copy documents with ``_reindex``:
they run where the server has the reindex module, and where it has not the refusal
is the test. Rollback and prune need two versions; without ``_reindex`` the test
makes the second one over plain HTTP as ``migrate --reindex`` would have left it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support.search_targets import ON_ENGINES_WITH_REINDEX, ON_ENGINES_WITHOUT_REINDEX, HttpError, SearchTarget
from ticketctl import __version__
from ticketctl.cli.main import run
from ticketctl.errors import AbortedError, ExitCode, LockedError, SearchError, TicketctlError
from ticketctl.search import (
    adopt,
    connect,
    create_index,
    diff,
    index_status,
    migrate_index,
    prune,
    rollback,
    validate,
)
from ticketctl.search.lock import LOCK_INDEX, IndexLock
from ticketctl.search.results import MigrateResult

pytestmark = pytest.mark.integration


def writes(result: Any) -> list[str]:
    """The write requests a verb actually sent."""
    return [f"{r.request.method} {r.request.path}" for r in result.requests if r.request.is_write and r.sent]


def new_field(document: dict[str, Any]) -> None:
    document["mappings"]["properties"]["subtitle"] = {"type": "text", "analyzer": "event_name_analyzer"}
    document["mappings"]["_meta"]["schema_version"] = 2


def new_analyzer(document: dict[str, Any]) -> None:
    """A change that needs a reindex: the analyzer now also splits on word delimiters."""
    analyzer = document["settings"]["analysis"]["analyzer"]["event_name_analyzer"]
    analyzer["filter"] = ["word_delimiter_graph", "lowercase", "asciifolding"]
    document["mappings"]["_meta"]["schema_version"] = 3


def test_detection_picks_the_engine_and_its_client(search: SearchTarget) -> None:
    connection = connect(search.settings(), {})
    try:
        assert connection.info.engine == search.engine
        client_package = {"elasticsearch": "elasticsearch", "opensearch": "opensearchpy"}[search.engine]
        assert type(connection.client).__module__.split(".")[0] == client_package
        assert connection.get("/_cluster/health")["status"] in ("green", "yellow")
    finally:
        connection.close()


def test_create_then_idempotent_create_sends_nothing(search: SearchTarget) -> None:
    settings = search.settings()
    first = create_index(settings, {})
    assert (first.status, first.index) == ("created", f"{search.alias}_v1")
    assert writes(first) == [f"PUT /{search.alias}_v1"]
    live = search.http("GET", f"/{search.alias}_v1")[f"{search.alias}_v1"]
    assert live["aliases"] == {search.alias: {"is_write_index": True}}
    assert live["settings"]["index"]["number_of_shards"] == "1"
    assert live["settings"]["index"]["number_of_replicas"] == "0"  # auto on a single data node
    meta = live["mappings"]["_meta"]["ticketctl"]
    assert (meta["spec_hash"], meta["schema_version"], meta["tool_version"]) == (first.spec_hash, 1, __version__)
    assert live["mappings"]["properties"]["date"]["format"].endswith("||strict_date_optional_time||epoch_millis")

    second = create_index(settings, {})
    assert (second.status, second.index, second.spec_hash) == ("up_to_date", first.index, first.spec_hash)
    assert [record.request.method for record in second.requests] == ["GET", "GET", "GET"]
    assert writes(second) == []


def test_dates_with_milliseconds_and_offsets_are_accepted(search: SearchTarget) -> None:
    create_index(search.settings(), {})
    for number, date in enumerate(["2026-05-01T20:00:00Z", "2026-05-01T20:00:00.123+00:00", "1777665600000"]):
        search.http("PUT", f"/{search.alias}/_doc/{number}?refresh=true", {"date": date})
    assert search.count(search.alias) == 3


def test_status_and_diff_in_sync_drift_missing(search: SearchTarget) -> None:
    settings = search.settings()
    assert index_status(settings, {}).state == "missing"
    create_index(settings, {})
    search.index_documents(5)
    status = index_status(settings, {})
    assert (status.state, status.docs, status.changes) == ("in_sync", 5, [])
    assert status.file_hash == status.live_hash == status.recorded_hash
    assert status.index is not None and status.index.health == "green"
    assert diff(settings, {}).changes == []

    changed = search.mapping_variant("changed.json", lambda d: (new_field(d), new_analyzer(d)))
    drift = diff(settings, {}, mapping_path=changed)
    assert drift.state == "drift"
    assert [(change.path, change.in_place) for change in drift.changes] == [
        ("analysis.analyzer.event_name_analyzer.filter", False),
        ("_meta", True),
        ("subtitle", True),
    ]
    assert index_status(settings, {}, mapping_path=changed).live_hash == status.live_hash


def test_status_exit_codes_through_the_cli(search: SearchTarget, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["index", "status", "--url", search.url, "--index", search.alias]
    with pytest.raises(SystemExit) as exited:
        run(args)
    assert exited.value.code == ExitCode.MISSING
    create_index(search.settings(), {})
    with pytest.raises(SystemExit) as exited:
        run(args)
    assert exited.value.code == ExitCode.OK
    changed = search.mapping_variant("changed.json", new_field)
    with pytest.raises(SystemExit) as exited:
        run([*args, "--mapping", str(changed)])
    assert exited.value.code == ExitCode.DRIFT
    assert "DRIFT (2 change(s)" in capsys.readouterr().out


def test_in_place_migrate_adds_a_field_and_meta_keeping_documents(search: SearchTarget) -> None:
    settings = search.settings()
    create_index(settings, {})
    search.index_documents(10)
    changed = search.mapping_variant("changed.json", new_field)
    result = migrate_index(settings, {}, mapping_path=changed)
    assert (result.action, result.from_index, result.to_index) == ("in_place", *(f"{search.alias}_v1",) * 2)
    assert f"PUT /{search.alias}_v1/_mapping" in writes(result)
    live = search.http("GET", f"/{search.alias}_v1/_mapping")[f"{search.alias}_v1"]["mappings"]
    assert live["properties"]["subtitle"] == {"type": "text", "analyzer": "event_name_analyzer"}
    assert live["_meta"]["schema_version"] == 2
    after = index_status(settings, {}, mapping_path=changed)
    assert (after.state, after.docs) == ("in_sync", 10)
    assert after.recorded_hash == after.file_hash
    again = migrate_index(settings, {}, mapping_path=changed)
    assert again.action == "up_to_date" and writes(again) == []


def test_migrate_without_reindex_refuses_and_changes_nothing(search: SearchTarget) -> None:
    settings = search.settings()
    create_index(settings, {})
    changed = search.mapping_variant("changed.json", new_analyzer)
    with pytest.raises(TicketctlError) as caught:
        migrate_index(settings, {}, mapping_path=changed)
    assert caught.value.exit_code == ExitCode.DRIFT
    assert "need a reindex: analysis.analyzer.event_name_analyzer.filter" in caught.value.message
    assert caught.value.hint is not None and "--reindex" in caught.value.hint
    assert search.index_names() == [f"{search.alias}_v1"]


@ON_ENGINES_WITH_REINDEX
def test_dry_run_reindex_prints_the_plan_and_writes_nothing(search: SearchTarget) -> None:
    settings = search.settings()
    create_index(settings, {})
    changed = search.mapping_variant("changed.json", new_analyzer)
    result = migrate_index(settings, {}, mapping_path=changed, reindex=True, source="index", dry_run=True)
    assert result.action == "planned"
    assert writes(result) == []
    planned = [f"{request.method} {request.path}" for request in result.planned]
    assert planned[0] == f"PUT /{search.alias}_v2"
    assert "POST /_reindex" in planned and planned[-1] == "POST /_aliases"
    assert search.index_names() == [f"{search.alias}_v1"]
    live = search.http("GET", f"/{search.alias}_v1/_settings?flat_settings=true")
    assert "index.blocks.write" not in live[f"{search.alias}_v1"]["settings"]


def reindexed(search: SearchTarget, documents: int) -> MigrateResult:
    settings = search.settings()
    create_index(settings, {})
    search.index_documents(documents)
    changed = search.mapping_variant("changed.json", new_analyzer)
    events: list[Any] = []
    result = migrate_index(settings, {}, mapping_path=changed, reindex=True, source="index", on_event=events.append)
    assert any(event.kind == "progress" and event.done == documents for event in events)
    return result


def second_version(search: SearchTarget, documents: int) -> None:
    """v1 holding ``documents`` documents, then v2 with the same ones and the alias, v1 write-blocked:
    by ``migrate --reindex`` where the server has ``_reindex``, else by hand as that leaves it."""
    if search.has_reindex:
        reindexed(search, documents)
        return
    create_index(search.settings(), {})
    search.index_documents(documents)
    search.copy_into_next_version()


@ON_ENGINES_WITHOUT_REINDEX
def test_reindex_and_adopt_are_refused_in_one_line_before_any_write(
    search: SearchTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = search.settings()
    create_index(settings, {})
    search.index_documents(3)
    changed = search.mapping_variant("changed.json", new_analyzer)
    refusal = (
        f"{search.label} at {search.url} lacks the reindex module (the _reindex API), so it cannot copy documents "
        "into a new version"
    )
    for dry_run in (True, False):
        with pytest.raises(SearchError) as caught:
            migrate_index(settings, {}, mapping_path=changed, reindex=True, source="index", dry_run=dry_run)
        assert caught.value.message == refusal
    with pytest.raises(SystemExit) as exited:
        run(
            [
                "index",
                "migrate",
                "--reindex",
                "--source",
                "index",
                "--url",
                search.url,
                "--index",
                search.alias,
                "--mapping",
                str(changed),
            ]
        )
    assert exited.value.code == ExitCode.SEARCH
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {refusal} — use a full distribution (the official Docker image ships the reindex "
        "module); minimal builds such as Elasticsearch's integ-test-zip leave it out; or copy from the events "
        "database: 'ticketctl index migrate --reindex --source database' (the default)"
    ]
    assert search.index_names() == [f"{search.alias}_v1"]
    live = search.http("GET", f"/{search.alias}_v1/_settings?flat_settings=true")
    assert "index.blocks.write" not in live[f"{search.alias}_v1"]["settings"]
    assert search.count(search.alias) == 3

    concrete = f"{search.alias}x"
    search.http("PUT", f"/{concrete}/_doc/1?refresh=true", {"name": "seed"})
    with pytest.raises(SearchError) as caught:
        adopt(search.settings(**{"search.index": concrete}), {}, confirm=lambda q: True)
    assert caught.value.message == refusal
    assert search.count(concrete) == 1


@ON_ENGINES_WITH_REINDEX
def test_reindex_preserves_documents_and_swaps_the_alias_atomically(search: SearchTarget) -> None:
    old, new = f"{search.alias}_v1", f"{search.alias}_v2"
    result = reindexed(search, 300)
    assert (result.action, result.from_index, result.to_index, result.documents) == ("reindexed", old, new, 300)
    swaps = [record.request for record in result.requests if record.request.path == "/_aliases"]
    assert len(swaps) == 1  # one call: remove and add together, so no reader ever sees no index
    assert swaps[0].body == {
        "actions": [
            {"remove": {"index": old, "alias": search.alias}},
            {"add": {"index": new, "alias": search.alias, "is_write_index": True}},
        ]
    }
    assert search.alias_targets() == {new: {"aliases": {search.alias: {"is_write_index": True}}}}
    assert search.count(new) == search.count(old) == 300
    assert search.http("GET", f"/{new}/_doc/123")["_source"] == search.http("GET", f"/{old}/_doc/123")["_source"]
    hits = search.http("POST", f"/{search.alias}/_search", {"query": {"match": {"name": "sao"}}})
    assert hits["hits"]["total"]["value"] == 300
    with pytest.raises(HttpError) as refused:  # the old version stays write-blocked: nothing lands there unseen
        search.http("PUT", f"/{old}/_doc/late", {"name": "late"})
    assert refused.value.status == 403
    status = index_status(search.settings(), {}, mapping_path=search.tmp_path / "changed.json")
    assert status.state == "in_sync" and [v.name for v in status.versions] == [old, new]


def test_rollback_then_prune(search: SearchTarget) -> None:
    old, new = f"{search.alias}_v1", f"{search.alias}_v2"
    second_version(search, 20)
    settings = search.settings()
    back = rollback(settings, {})
    assert (back.from_index, back.to_index, back.from_docs, back.to_docs) == (new, old, 20, 20)
    assert search.alias_targets() == {old: {"aliases": {search.alias: {"is_write_index": True}}}}
    search.http("PUT", f"/{search.alias}/_doc/after-rollback?refresh=true", {"name": "written"})
    assert search.count(old) == 21  # the rolled-back-to version is writable again

    with pytest.raises(AbortedError):
        prune(settings, {}, keep=0)  # no confirmation: nothing deleted
    assert search.index_names() == [old, new]
    questions: list[str] = []
    kept = prune(settings, {}, keep=1, confirm=lambda q: questions.append(q) or True)
    assert kept.deleted == [] and kept.kept == [new] and questions == []
    pruned = prune(settings, {}, keep=0, confirm=lambda q: questions.append(q) or True)
    assert (pruned.deleted, pruned.documents_deleted) == ([new], 20)
    assert questions == [
        f"Delete {new} (20 documents)? This cannot be undone; {search.alias} keeps pointing where it does."
    ]
    assert search.index_names() == [old]
    assert prune(settings, {}, keep=0, confirm=lambda q: True).deleted == []  # never the alias's own index


def test_rollback_asks_when_the_current_version_has_newer_documents(search: SearchTarget) -> None:
    second_version(search, 5)
    search.http("PUT", f"/{search.alias}/_doc/newer?refresh=true", {"name": "only in v2"})
    with pytest.raises(AbortedError) as caught:
        rollback(search.settings(), {}, confirm=lambda q: False)
    assert "nothing changed" in caught.value.message
    assert list(search.alias_targets()) == [f"{search.alias}_v2"]
    done = rollback(search.settings(), {}, confirm=lambda q: True)
    assert (done.from_docs, done.to_docs) == (6, 5)
    assert list(search.alias_targets()) == [f"{search.alias}_v1"]


def test_validate_proves_the_analyzer_on_the_server(search: SearchTarget) -> None:
    result = validate(search.settings(), {})
    assert result.ok and result.server_checked
    tokens = {check.text: check.tokens for check in result.analyzer_checks}
    assert tokens["São Paulo"] == ["sao", "paulo"]
    assert tokens["Björk Live"] == ["bjork", "live"]
    assert search.index_names() == []  # the probe index was deleted again


def test_validate_reports_tokens_that_differ_from_the_file(search: SearchTarget) -> None:
    def no_folding_expected(document: dict[str, Any]) -> None:
        document["mappings"]["_meta"]["analyzer_examples"]["event_name_analyzer"]["São Paulo"] = ["são", "paulo"]

    result = validate(search.settings(), {}, mapping_path=search.mapping_variant("x.json", no_folding_expected))
    assert not result.ok
    assert [(check.text, check.ok) for check in result.analyzer_checks] == [("São Paulo", False), ("Björk Live", True)]


def test_a_held_lock_makes_a_second_migration_refuse(search: SearchTarget) -> None:
    settings = search.settings()
    create_index(settings, {})
    changed = search.mapping_variant("changed.json", new_field)
    connection = connect(settings, {})
    try:
        with IndexLock(connection, search.alias, "migrate --reindex (another process)"):
            with pytest.raises(LockedError) as caught:
                migrate_index(settings, {}, mapping_path=changed)
            assert caught.value.exit_code == ExitCode.LOCKED
            assert f"index {search.alias} is locked by migrate --reindex (another process)" in caught.value.message
            assert search.index_names() == [f"{search.alias}_v1"]
    finally:
        connection.close()
    assert migrate_index(settings, {}, mapping_path=changed).action == "in_place"


def test_an_expired_lock_is_taken_over(search: SearchTarget) -> None:
    settings = search.settings()
    create_index(settings, {})
    search.http("PUT", f"/{LOCK_INDEX}/_doc/{search.alias}?refresh=true", {"owner": "gone:1", "expires_at": 1})
    changed = search.mapping_variant("changed.json", new_field)
    assert migrate_index(settings, {}, mapping_path=changed).action == "in_place"
    with pytest.raises(HttpError) as gone:
        search.http("GET", f"/{LOCK_INDEX}/_doc/{search.alias}")
    assert gone.value.status == 404  # released after the work


@ON_ENGINES_WITH_REINDEX
def test_two_simultaneous_reindexes_make_one_version(search: SearchTarget) -> None:
    settings = search.settings()
    create_index(settings, {})
    search.index_documents(500)
    changed = search.mapping_variant("changed.json", new_analyzer)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def migrate() -> None:
        barrier.wait()
        try:
            outcomes.append(migrate_index(settings, {}, mapping_path=changed, reindex=True, source="index").action)
        except LockedError:
            outcomes.append("locked")

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) in (["locked", "reindexed"], ["reindexed", "up_to_date"])
    assert search.index_names() == [f"{search.alias}_v1", f"{search.alias}_v2"]
    assert search.count(search.alias) == 500


@ON_ENGINES_WITH_REINDEX
def test_create_refuses_a_concrete_index_named_like_the_alias_and_adopt_replaces_it(search: SearchTarget) -> None:
    alias = search.alias
    search.http("PUT", f"/{alias}", {"mappings": {"properties": {"name": {"type": "text"}}}})
    for number in range(7):
        search.http("PUT", f"/{alias}/_doc/{number}?refresh=true", {"name": f"seed {number}"})
    with pytest.raises(SearchError) as caught:
        create_index(search.settings(), {})
    assert f"a concrete index named {alias} exists" in caught.value.message
    assert caught.value.hint is not None and "ticketctl index adopt" in caught.value.hint
    with pytest.raises(AbortedError):
        adopt(search.settings(), {})
    assert search.index_names() == [alias]
    result = adopt(search.settings(), {}, confirm=lambda q: True)
    assert (result.action, result.from_index, result.to_index, result.documents) == ("adopted", alias, f"{alias}_v1", 7)
    assert search.alias_targets() == {f"{alias}_v1": {"aliases": {alias: {"is_write_index": True}}}}
    assert search.index_names() == [f"{alias}_v1"]
    assert index_status(search.settings(), {}).state == "in_sync"


@ON_ENGINES_WITH_REINDEX
def test_a_migration_that_waited_reads_the_state_again_under_the_lock(
    search: SearchTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B read "v1 needs a reindex"; A reindexes to v2 before B gets the lock; B must find the work done."""
    settings = search.settings()
    create_index(settings, {})
    search.index_documents(20)
    changed = search.mapping_variant("changed.json", new_analyzer)
    acquire = IndexLock.acquire
    other: list[MigrateResult] = []
    started: list[bool] = []

    def another_process_first(lock: IndexLock) -> None:
        if not started:
            started.append(True)
            other.append(migrate_index(settings, {}, mapping_path=changed, reindex=True, source="index"))
        acquire(lock)

    monkeypatch.setattr(IndexLock, "acquire", another_process_first)
    result = migrate_index(settings, {}, mapping_path=changed, reindex=True, source="index")
    assert other[0].action == "reindexed"
    assert result.action == "up_to_date"
    assert search.index_names() == [f"{search.alias}_v1", f"{search.alias}_v2"]
    assert list(search.alias_targets()) == [f"{search.alias}_v2"]


@ON_ENGINES_WITH_REINDEX
def test_migrate_keep_deletes_older_versions_only_after_confirmation(search: SearchTarget) -> None:
    v1, v2, v3, v4 = (f"{search.alias}_v{number}" for number in (1, 2, 3, 4))
    reindexed(search, 8)
    changed = search.tmp_path / "changed.json"
    two_shards = search.settings(**{"search.shards": 2})
    declined = migrate_index(
        two_shards, {}, mapping_path=changed, reindex=True, source="index", keep=1, confirm=lambda q: False
    )
    assert (declined.action, declined.to_index, declined.pruned) == ("reindexed", v3, [])
    assert sorted(declined.kept) == [v1, v2]
    assert search.index_names() == [v1, v2, v3]
    accepted = migrate_index(
        search.settings(), {}, mapping_path=changed, reindex=True, source="index", keep=1, confirm=lambda q: True
    )
    assert (accepted.to_index, accepted.pruned, accepted.kept) == (v4, [v1, v2], [v3])
    assert search.index_names() == [v3, v4]
    assert search.count(search.alias) == 8


def test_cli_dry_run_prints_the_create_request_and_creates_nothing(
    search: SearchTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["index", "create", "--dry-run", "--url", search.url, "--index", search.alias])
    assert exited.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"dry run: 1 request(s) would be sent to {search.label} at {search.url}")
    assert out[1] == f"PUT /{search.alias}_v1?wait_for_active_shards=1"
    assert '"is_write_index": true' in "\n".join(out[2:])
    assert search.index_names() == []
