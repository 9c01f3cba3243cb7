"""The index lifecycle on the real Elasticsearch 8.19.21 integ-test-zip, as far as its modules allow.

That build has no analysis-common (no ``asciifolding``), no reindex module and
no rest-root (no ``GET /``). The packaged mapping must fail there with one
line naming the component and the module; a variant without ``asciifolding``
goes through create, the no-op create, status, diff and in-place migrate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.search_targets import SearchTarget
from ticketctl.cli.main import run
from ticketctl.errors import ExitCode, SearchError, TicketctlError
from ticketctl.search import connect, create_index, diff, index_status, migrate_index, validate

pytestmark = pytest.mark.integration


def writes(result: Any) -> list[str]:
    return [f"{r.request.method} {r.request.path}" for r in result.requests if r.request.is_write and r.sent]


def without_asciifolding(document: dict[str, Any]) -> None:
    document["settings"]["analysis"]["analyzer"]["event_name_analyzer"]["filter"] = ["lowercase"]
    document["mappings"]["_meta"]["analyzer_examples"] = {"event_name_analyzer": {"São Paulo": ["são", "paulo"]}}


def lowercase_only(target: SearchTarget) -> Path:
    return target.mapping_variant("lowercase-only.json", without_asciifolding)


def test_detection_falls_back_to_nodes_and_uses_the_elasticsearch_client(elasticsearch: SearchTarget) -> None:
    connection = connect(elasticsearch.settings(), {})
    try:
        assert connection.info.engine == "elasticsearch"
        assert connection.info.major == 8
        assert type(connection.client).__module__.startswith("elasticsearch")
        assert connection.get("/_cluster/health")["status"] in ("green", "yellow")
    finally:
        connection.close()


def test_create_with_asciifolding_fails_in_one_line_naming_the_module(elasticsearch: SearchTarget) -> None:
    with pytest.raises(SearchError) as caught:
        create_index(elasticsearch.settings(), {})
    message = caught.value.message
    assert "lacks the token filter 'asciifolding' of the analysis-common module" in message
    # The analyzer that needs the filter, at the line of mappings/events.json that defines it.
    assert message.endswith(", used by analyzer 'event_name_analyzer' (mappings/events.json:5)"), message
    assert "\n" not in message
    assert caught.value.hint is not None and "analysis-common" in caught.value.hint
    assert elasticsearch.index_names() == []


def test_validate_names_the_missing_component_and_leaves_no_probe(
    elasticsearch: SearchTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["index", "validate", "--url", elasticsearch.url, "--index", elasticsearch.alias])
    assert exited.value.code == ExitCode.SEARCH
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1  # one line: the component, the module and (after a dash) the fix
    assert "lacks the token filter 'asciifolding' of the analysis-common module" in errors[0]
    assert " — use a full distribution" in errors[0]
    assert elasticsearch.index_names() == []


def test_validate_without_asciifolding_analyzes_on_the_server(elasticsearch: SearchTarget) -> None:
    result = validate(elasticsearch.settings(), {}, mapping_path=lowercase_only(elasticsearch))
    assert result.ok and result.server_checked
    assert [(check.text, check.tokens) for check in result.analyzer_checks] == [("São Paulo", ["são", "paulo"])]
    assert elasticsearch.index_names() == []


def test_create_idempotent_create_status_diff(elasticsearch: SearchTarget) -> None:
    settings, mapping = elasticsearch.settings(), lowercase_only(elasticsearch)
    created = create_index(settings, {}, mapping_path=mapping)
    assert (created.status, created.index) == ("created", f"{elasticsearch.alias}_v1")
    assert writes(created) == [f"PUT /{elasticsearch.alias}_v1"]
    again = create_index(settings, {}, mapping_path=mapping)
    assert again.status == "up_to_date" and writes(again) == []
    elasticsearch.index_documents(4)
    status = index_status(settings, {}, mapping_path=mapping)
    assert (status.state, status.docs) == ("in_sync", 4)
    assert status.file_hash == status.live_hash == status.recorded_hash == created.spec_hash
    assert diff(settings, {}, mapping_path=mapping).changes == []
    with pytest.raises(TicketctlError) as refused:
        create_index(settings, {})  # the packaged file differs (asciifolding): refuse, point to diff/migrate
    assert refused.value.exit_code == ExitCode.DRIFT
    assert refused.value.hint is not None and "ticketctl index diff" in refused.value.hint


def test_in_place_migrate_and_replicas(elasticsearch: SearchTarget) -> None:
    settings, mapping = elasticsearch.settings(), lowercase_only(elasticsearch)
    create_index(settings, {}, mapping_path=mapping)
    elasticsearch.index_documents(3)

    def add_field(document: dict[str, Any]) -> None:
        without_asciifolding(document)
        document["mappings"]["properties"]["subtitle"] = {"type": "text"}
        document["mappings"]["_meta"]["schema_version"] = 2

    changed = elasticsearch.mapping_variant("changed.json", add_field)
    result = migrate_index(settings, {}, mapping_path=changed)
    assert result.action == "in_place"
    assert f"PUT /{elasticsearch.alias}_v1/_mapping" in writes(result)
    assert index_status(settings, {}, mapping_path=changed).state == "in_sync"

    one_replica = elasticsearch.settings(**{"search.replicas": 1})
    assert [change.path for change in diff(one_replica, {}, mapping_path=changed).changes] == ["number_of_replicas"]
    applied = migrate_index(one_replica, {}, mapping_path=changed)
    assert applied.action == "in_place"
    live = elasticsearch.http("GET", f"/{elasticsearch.alias}_v1/_settings?flat_settings=true")
    assert live[f"{elasticsearch.alias}_v1"]["settings"]["index.number_of_replicas"] == "1"
    assert elasticsearch.count(elasticsearch.alias) == 3


def test_a_reindex_is_refused_before_any_write_without_the_reindex_module(elasticsearch: SearchTarget) -> None:
    settings, mapping = elasticsearch.settings(), lowercase_only(elasticsearch)
    create_index(settings, {}, mapping_path=mapping)
    two_shards = elasticsearch.settings(**{"search.shards": 2})
    with pytest.raises(SearchError) as caught:
        migrate_index(two_shards, {}, mapping_path=mapping, reindex=True)
    assert "lacks the reindex module" in caught.value.message
    assert elasticsearch.index_names() == [f"{elasticsearch.alias}_v1"]
    live = elasticsearch.http("GET", f"/{elasticsearch.alias}_v1/_settings?flat_settings=true")
    assert "index.blocks.write" not in live[f"{elasticsearch.alias}_v1"]["settings"]
