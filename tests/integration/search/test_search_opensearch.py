"""The whole index lifecycle on the real OpenSearch (analysis-common, reindex and painless loaded)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support.search_targets import HttpError, SearchTarget
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


def test_create_then_idempotent_create_sends_nothing(opensearch: SearchTarget) -> None:
    settings = opensearch.settings()
    first = create_index(settings, {})
    assert (first.status, first.index) == ("created", f"{opensearch.alias}_v1")
    assert writes(first) == [f"PUT /{opensearch.alias}_v1"]
    live = opensearch.http("GET", f"/{opensearch.alias}_v1")[f"{opensearch.alias}_v1"]
    assert live["aliases"] == {opensearch.alias: {"is_write_index": True}}
    assert live["settings"]["index"]["number_of_shards"] == "1"
    assert live["settings"]["index"]["number_of_replicas"] == "0"  # auto on a single data node
    meta = live["mappings"]["_meta"]["ticketctl"]
    assert (meta["spec_hash"], meta["schema_version"], meta["tool_version"]) == (first.spec_hash, 1, __version__)
    assert live["mappings"]["properties"]["date"]["format"].endswith("||strict_date_optional_time||epoch_millis")

    second = create_index(settings, {})
    assert (second.status, second.index, second.spec_hash) == ("up_to_date", first.index, first.spec_hash)
    assert [record.request.method for record in second.requests] == ["GET", "GET", "GET"]
    assert writes(second) == []


def test_dates_with_milliseconds_and_offsets_are_accepted(opensearch: SearchTarget) -> None:
    create_index(opensearch.settings(), {})
    for number, date in enumerate(["2026-05-01T20:00:00Z", "2026-05-01T20:00:00.123+00:00", "1777665600000"]):
        opensearch.http("PUT", f"/{opensearch.alias}/_doc/{number}?refresh=true", {"date": date})
    assert opensearch.count(opensearch.alias) == 3


def test_status_and_diff_in_sync_drift_missing(opensearch: SearchTarget) -> None:
    settings = opensearch.settings()
    assert index_status(settings, {}).state == "missing"
    create_index(settings, {})
    opensearch.index_documents(5)
    status = index_status(settings, {})
    assert (status.state, status.docs, status.changes) == ("in_sync", 5, [])
    assert status.file_hash == status.live_hash == status.recorded_hash
    assert status.index is not None and status.index.health == "green"
    assert diff(settings, {}).changes == []

    changed = opensearch.mapping_variant("changed.json", lambda d: (new_field(d), new_analyzer(d)))
    drift = diff(settings, {}, mapping_path=changed)
    assert drift.state == "drift"
    assert [(change.path, change.in_place) for change in drift.changes] == [
        ("analysis.analyzer.event_name_analyzer.filter", False),
        ("_meta", True),
        ("subtitle", True),
    ]
    assert index_status(settings, {}, mapping_path=changed).live_hash == status.live_hash


def test_status_exit_codes_through_the_cli(opensearch: SearchTarget, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["index", "status", "--url", opensearch.url, "--index", opensearch.alias]
    with pytest.raises(SystemExit) as exited:
        run(args)
    assert exited.value.code == ExitCode.MISSING
    create_index(opensearch.settings(), {})
    with pytest.raises(SystemExit) as exited:
        run(args)
    assert exited.value.code == ExitCode.OK
    changed = opensearch.mapping_variant("changed.json", new_field)
    with pytest.raises(SystemExit) as exited:
        run([*args, "--mapping", str(changed)])
    assert exited.value.code == ExitCode.DRIFT
    assert "DRIFT (2 change(s)" in capsys.readouterr().out


def test_in_place_migrate_adds_a_field_and_meta_keeping_documents(opensearch: SearchTarget) -> None:
    settings = opensearch.settings()
    create_index(settings, {})
    opensearch.index_documents(10)
    changed = opensearch.mapping_variant("changed.json", new_field)
    result = migrate_index(settings, {}, mapping_path=changed)
    assert (result.action, result.from_index, result.to_index) == ("in_place", *(f"{opensearch.alias}_v1",) * 2)
    assert f"PUT /{opensearch.alias}_v1/_mapping" in writes(result)
    live = opensearch.http("GET", f"/{opensearch.alias}_v1/_mapping")[f"{opensearch.alias}_v1"]["mappings"]
    assert live["properties"]["subtitle"] == {"type": "text", "analyzer": "event_name_analyzer"}
    assert live["_meta"]["schema_version"] == 2
    after = index_status(settings, {}, mapping_path=changed)
    assert (after.state, after.docs) == ("in_sync", 10)
    assert after.recorded_hash == after.file_hash
    again = migrate_index(settings, {}, mapping_path=changed)
    assert again.action == "up_to_date" and writes(again) == []


def test_migrate_without_reindex_refuses_and_changes_nothing(opensearch: SearchTarget) -> None:
    settings = opensearch.settings()
    create_index(settings, {})
    changed = opensearch.mapping_variant("changed.json", new_analyzer)
    with pytest.raises(TicketctlError) as caught:
        migrate_index(settings, {}, mapping_path=changed)
    assert caught.value.exit_code == ExitCode.DRIFT
    assert "need a reindex: analysis.analyzer.event_name_analyzer.filter" in caught.value.message
    assert caught.value.hint is not None and "--reindex" in caught.value.hint
    assert opensearch.index_names() == [f"{opensearch.alias}_v1"]


def test_dry_run_reindex_prints_the_plan_and_writes_nothing(opensearch: SearchTarget) -> None:
    settings = opensearch.settings()
    create_index(settings, {})
    changed = opensearch.mapping_variant("changed.json", new_analyzer)
    result = migrate_index(settings, {}, mapping_path=changed, reindex=True, dry_run=True)
    assert result.action == "planned"
    assert writes(result) == []
    planned = [f"{request.method} {request.path}" for request in result.planned]
    assert planned[0] == f"PUT /{opensearch.alias}_v2"
    assert "POST /_reindex" in planned and planned[-1] == "POST /_aliases"
    assert opensearch.index_names() == [f"{opensearch.alias}_v1"]
    live = opensearch.http("GET", f"/{opensearch.alias}_v1/_settings?flat_settings=true")
    assert "index.blocks.write" not in live[f"{opensearch.alias}_v1"]["settings"]


def reindexed(opensearch: SearchTarget, documents: int) -> MigrateResult:
    settings = opensearch.settings()
    create_index(settings, {})
    opensearch.index_documents(documents)
    changed = opensearch.mapping_variant("changed.json", new_analyzer)
    events: list[Any] = []
    result = migrate_index(settings, {}, mapping_path=changed, reindex=True, on_event=events.append)
    assert any(event.kind == "progress" and event.done == documents for event in events)
    return result


def test_reindex_preserves_documents_and_swaps_the_alias_atomically(opensearch: SearchTarget) -> None:
    old, new = f"{opensearch.alias}_v1", f"{opensearch.alias}_v2"
    result = reindexed(opensearch, 300)
    assert (result.action, result.from_index, result.to_index, result.documents) == ("reindexed", old, new, 300)
    swaps = [record.request for record in result.requests if record.request.path == "/_aliases"]
    assert len(swaps) == 1  # one call: remove and add together, so no reader ever sees no index
    assert swaps[0].body == {
        "actions": [
            {"remove": {"index": old, "alias": opensearch.alias}},
            {"add": {"index": new, "alias": opensearch.alias, "is_write_index": True}},
        ]
    }
    assert opensearch.alias_targets() == {new: {"aliases": {opensearch.alias: {"is_write_index": True}}}}
    assert opensearch.count(new) == opensearch.count(old) == 300
    assert (
        opensearch.http("GET", f"/{new}/_doc/123")["_source"] == opensearch.http("GET", f"/{old}/_doc/123")["_source"]
    )
    hits = opensearch.http("POST", f"/{opensearch.alias}/_search", {"query": {"match": {"name": "sao"}}})
    assert hits["hits"]["total"]["value"] == 300
    with pytest.raises(HttpError) as refused:  # the old version stays write-blocked: nothing lands there unseen
        opensearch.http("PUT", f"/{old}/_doc/late", {"name": "late"})
    assert refused.value.status == 403
    status = index_status(opensearch.settings(), {}, mapping_path=opensearch.tmp_path / "changed.json")
    assert status.state == "in_sync" and [v.name for v in status.versions] == [old, new]


def test_rollback_then_prune(opensearch: SearchTarget) -> None:
    old, new = f"{opensearch.alias}_v1", f"{opensearch.alias}_v2"
    reindexed(opensearch, 20)
    settings = opensearch.settings()
    back = rollback(settings, {})
    assert (back.from_index, back.to_index, back.from_docs, back.to_docs) == (new, old, 20, 20)
    assert opensearch.alias_targets() == {old: {"aliases": {opensearch.alias: {"is_write_index": True}}}}
    opensearch.http("PUT", f"/{opensearch.alias}/_doc/after-rollback?refresh=true", {"name": "written"})
    assert opensearch.count(old) == 21  # the rolled-back-to version is writable again

    with pytest.raises(AbortedError):
        prune(settings, {}, keep=0)  # no confirmation: nothing deleted
    assert opensearch.index_names() == [old, new]
    questions: list[str] = []
    kept = prune(settings, {}, keep=1, confirm=lambda q: questions.append(q) or True)
    assert kept.deleted == [] and kept.kept == [new] and questions == []
    pruned = prune(settings, {}, keep=0, confirm=lambda q: questions.append(q) or True)
    assert (pruned.deleted, pruned.documents_deleted) == ([new], 20)
    assert questions == [
        f"Delete {new} (20 documents)? This cannot be undone; {opensearch.alias} keeps pointing where it does."
    ]
    assert opensearch.index_names() == [old]
    assert prune(settings, {}, keep=0, confirm=lambda q: True).deleted == []  # never the alias's own index


def test_rollback_asks_when_the_current_version_has_newer_documents(opensearch: SearchTarget) -> None:
    reindexed(opensearch, 5)
    opensearch.http("PUT", f"/{opensearch.alias}/_doc/newer?refresh=true", {"name": "only in v2"})
    with pytest.raises(AbortedError) as caught:
        rollback(opensearch.settings(), {}, confirm=lambda q: False)
    assert "nothing changed" in caught.value.message
    assert list(opensearch.alias_targets()) == [f"{opensearch.alias}_v2"]
    done = rollback(opensearch.settings(), {}, confirm=lambda q: True)
    assert (done.from_docs, done.to_docs) == (6, 5)
    assert list(opensearch.alias_targets()) == [f"{opensearch.alias}_v1"]


def test_validate_proves_the_analyzer_on_the_server(opensearch: SearchTarget) -> None:
    result = validate(opensearch.settings(), {})
    assert result.ok and result.server_checked
    tokens = {check.text: check.tokens for check in result.analyzer_checks}
    assert tokens["São Paulo"] == ["sao", "paulo"]
    assert tokens["Björk Live"] == ["bjork", "live"]
    assert opensearch.index_names() == []  # the probe index was deleted again


def test_validate_reports_tokens_that_differ_from_the_file(opensearch: SearchTarget) -> None:
    def no_folding_expected(document: dict[str, Any]) -> None:
        document["mappings"]["_meta"]["analyzer_examples"]["event_name_analyzer"]["São Paulo"] = ["são", "paulo"]

    result = validate(opensearch.settings(), {}, mapping_path=opensearch.mapping_variant("x.json", no_folding_expected))
    assert not result.ok
    assert [(check.text, check.ok) for check in result.analyzer_checks] == [("São Paulo", False), ("Björk Live", True)]


def test_a_held_lock_makes_a_second_migration_refuse(opensearch: SearchTarget) -> None:
    settings = opensearch.settings()
    create_index(settings, {})
    changed = opensearch.mapping_variant("changed.json", new_analyzer)
    connection = connect(settings, {})
    try:
        with IndexLock(connection, opensearch.alias, "migrate --reindex (another process)"):
            with pytest.raises(LockedError) as caught:
                migrate_index(settings, {}, mapping_path=changed, reindex=True)
            assert caught.value.exit_code == ExitCode.LOCKED
            assert f"index {opensearch.alias} is locked by migrate --reindex (another process)" in caught.value.message
            assert opensearch.index_names() == [f"{opensearch.alias}_v1"]
    finally:
        connection.close()
    assert migrate_index(settings, {}, mapping_path=changed, reindex=True).action == "reindexed"


def test_an_expired_lock_is_taken_over(opensearch: SearchTarget) -> None:
    settings = opensearch.settings()
    create_index(settings, {})
    opensearch.http("PUT", f"/{LOCK_INDEX}/_doc/{opensearch.alias}?refresh=true", {"owner": "gone:1", "expires_at": 1})
    changed = opensearch.mapping_variant("changed.json", new_field)
    assert migrate_index(settings, {}, mapping_path=changed).action == "in_place"
    with pytest.raises(HttpError) as gone:
        opensearch.http("GET", f"/{LOCK_INDEX}/_doc/{opensearch.alias}")
    assert gone.value.status == 404  # released after the work


def test_two_simultaneous_reindexes_make_one_version(opensearch: SearchTarget) -> None:
    settings = opensearch.settings()
    create_index(settings, {})
    opensearch.index_documents(500)
    changed = opensearch.mapping_variant("changed.json", new_analyzer)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def migrate() -> None:
        barrier.wait()
        try:
            outcomes.append(migrate_index(settings, {}, mapping_path=changed, reindex=True).action)
        except LockedError:
            outcomes.append("locked")

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) in (["locked", "reindexed"], ["reindexed", "up_to_date"])
    assert opensearch.index_names() == [f"{opensearch.alias}_v1", f"{opensearch.alias}_v2"]
    assert opensearch.count(opensearch.alias) == 500


def test_create_refuses_a_concrete_index_named_like_the_alias_and_adopt_replaces_it(opensearch: SearchTarget) -> None:
    alias = opensearch.alias
    opensearch.http("PUT", f"/{alias}", {"mappings": {"properties": {"name": {"type": "text"}}}})
    for number in range(7):
        opensearch.http("PUT", f"/{alias}/_doc/{number}?refresh=true", {"name": f"seed {number}"})
    with pytest.raises(SearchError) as caught:
        create_index(opensearch.settings(), {})
    assert f"a concrete index named {alias} exists" in caught.value.message
    assert caught.value.hint is not None and "ticketctl index adopt" in caught.value.hint
    with pytest.raises(AbortedError):
        adopt(opensearch.settings(), {})
    assert opensearch.index_names() == [alias]
    result = adopt(opensearch.settings(), {}, confirm=lambda q: True)
    assert (result.action, result.from_index, result.to_index, result.documents) == ("adopted", alias, f"{alias}_v1", 7)
    assert opensearch.alias_targets() == {f"{alias}_v1": {"aliases": {alias: {"is_write_index": True}}}}
    assert opensearch.index_names() == [f"{alias}_v1"]
    assert index_status(opensearch.settings(), {}).state == "in_sync"


def test_a_migration_that_waited_reads_the_state_again_under_the_lock(
    opensearch: SearchTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B read "v1 needs a reindex"; A reindexes to v2 before B gets the lock; B must find the work done."""
    settings = opensearch.settings()
    create_index(settings, {})
    opensearch.index_documents(20)
    changed = opensearch.mapping_variant("changed.json", new_analyzer)
    acquire = IndexLock.acquire
    other: list[MigrateResult] = []
    started: list[bool] = []

    def another_process_first(lock: IndexLock) -> None:
        if not started:
            started.append(True)
            other.append(migrate_index(settings, {}, mapping_path=changed, reindex=True))
        acquire(lock)

    monkeypatch.setattr(IndexLock, "acquire", another_process_first)
    result = migrate_index(settings, {}, mapping_path=changed, reindex=True)
    assert other[0].action == "reindexed"
    assert result.action == "up_to_date"
    assert opensearch.index_names() == [f"{opensearch.alias}_v1", f"{opensearch.alias}_v2"]
    assert list(opensearch.alias_targets()) == [f"{opensearch.alias}_v2"]


def test_migrate_keep_deletes_older_versions_only_after_confirmation(opensearch: SearchTarget) -> None:
    v1, v2, v3, v4 = (f"{opensearch.alias}_v{number}" for number in (1, 2, 3, 4))
    reindexed(opensearch, 8)
    changed = opensearch.tmp_path / "changed.json"
    two_shards = opensearch.settings(**{"search.shards": 2})
    declined = migrate_index(two_shards, {}, mapping_path=changed, reindex=True, keep=1, confirm=lambda q: False)
    assert (declined.action, declined.to_index, declined.pruned) == ("reindexed", v3, [])
    assert sorted(declined.kept) == [v1, v2]
    assert opensearch.index_names() == [v1, v2, v3]
    accepted = migrate_index(
        opensearch.settings(), {}, mapping_path=changed, reindex=True, keep=1, confirm=lambda q: True
    )
    assert (accepted.to_index, accepted.pruned, accepted.kept) == (v4, [v1, v2], [v3])
    assert opensearch.index_names() == [v3, v4]
    assert opensearch.count(opensearch.alias) == 8


def test_cli_dry_run_prints_the_create_request_and_creates_nothing(
    opensearch: SearchTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["index", "create", "--dry-run", "--url", opensearch.url, "--index", opensearch.alias])
    assert exited.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("dry run: 1 request(s) would be sent to OpenSearch")
    assert out[1] == f"PUT /{opensearch.alias}_v1?wait_for_active_shards=1"
    assert '"is_write_index": true' in "\n".join(out[2:])
    assert opensearch.index_names() == []
