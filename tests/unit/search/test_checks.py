"""Offline checks of the mapping file and the parsing of a server's "missing component" errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ticketctl.search.checks import check_mapping
from ticketctl.search.components import (
    ANALYSIS_COMMON,
    REINDEX,
    find_missing_component,
    loaded_modules,
    missing_component,
    missing_reindex,
)
from ticketctl.search.spec import load_mapping

pytestmark = pytest.mark.unit


def packaged() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(load_mapping().path.read_text(encoding="utf-8"))
    return document


def issues_of(tmp_path: Path, document: dict[str, Any]) -> list[tuple[str, str, str]]:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return [(issue.severity, issue.where, issue.message) for issue in check_mapping(load_mapping(path))]


def line_of(tmp_path: Path, needle: str) -> int:
    lines = (tmp_path / "events.json").read_text(encoding="utf-8").splitlines()
    return next(number for number, text in enumerate(lines, 1) if needle in text)


def test_the_packaged_mapping_has_no_findings() -> None:
    assert check_mapping(load_mapping()) == []


def test_unknown_field_type_is_an_error_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    document = packaged()
    document["mappings"]["properties"]["venue"]["type"] = "keywrod"
    found = issues_of(tmp_path, document)
    assert found == [
        (
            "error",
            f"{tmp_path / 'events.json'}:{line_of(tmp_path, 'keywrod')}",
            "field 'venue': unknown type 'keywrod' (did you mean 'keyword'?)",
        )
    ]


def test_an_undefined_analyzer_is_an_error(tmp_path: Path) -> None:
    document = packaged()
    document["mappings"]["properties"]["description"]["analyzer"] = "event_name_analyser"
    ((severity, where, message),) = issues_of(tmp_path, document)
    assert severity == "error"
    assert where.endswith(f":{line_of(tmp_path, 'event_name_analyser')}")
    assert "'event_name_analyser' is not defined" in message and "did you mean 'event_name_analyzer'" in message


def test_an_analyzer_on_a_keyword_is_an_error(tmp_path: Path) -> None:
    document = packaged()
    document["mappings"]["properties"]["city"]["analyzer"] = "standard"
    ((severity, _, message),) = issues_of(tmp_path, document)
    assert (severity, message) == ("error", "field 'city': type 'keyword' takes no analyzer")


def test_an_unknown_token_filter_is_a_warning_only(tmp_path: Path) -> None:
    document = packaged()
    document["settings"]["analysis"]["analyzer"]["event_name_analyzer"]["filter"] = ["lowercase", "asciifoldin"]
    ((severity, _, message),) = issues_of(tmp_path, document)
    assert severity == "warning"
    assert "token filter 'asciifoldin'" in message and "did you mean 'asciifolding'" in message


def test_a_custom_analyzer_without_tokenizer_is_an_error(tmp_path: Path) -> None:
    document = packaged()
    del document["settings"]["analysis"]["analyzer"]["event_name_analyzer"]["tokenizer"]
    ((severity, _, message),) = issues_of(tmp_path, document)
    assert (severity, message) == ("error", "custom analyzer 'event_name_analyzer' needs a 'tokenizer'")


def test_date_formats_are_checked(tmp_path: Path) -> None:
    document = packaged()
    document["mappings"]["properties"]["date"]["format"] = "strict_date_optinal_time||"
    found = issues_of(tmp_path, document)
    assert sorted(issue[0] for issue in found) == ["error", "warning"]
    assert any("did you mean 'strict_date_optional_time'" in issue[2] for issue in found)
    assert any("empty format" in issue[2] for issue in found)


def test_meta_is_checked(tmp_path: Path) -> None:
    document = packaged()
    document["mappings"]["_meta"]["ticketctl"] = {"spec_hash": "forged"}
    document["mappings"]["_meta"]["schema_version"] = "one"
    document["mappings"]["_meta"]["analyzer_examples"] = {"nope": {"x": ["x"]}}
    messages = [issue[2] for issue in issues_of(tmp_path, document)]
    assert "_meta.ticketctl is written by ticketctl" in messages
    assert "_meta.schema_version should be a positive integer" in messages
    assert "analyzer_examples: analyzer 'nope' is not defined" in messages


# --------------------------------------------------------------------------- server errors


# Reasons exactly as the real servers answered them (Elasticsearch 8.19.21 integ-test-zip, OpenSearch 3.6.0).
ES_CREATE = "Custom Analyzer [event_name_analyzer] failed to find filter under name [asciifolding]"
ES_ANALYZE = "failed to find global filter under [asciifolding]"
ES_REINDEX = "Incorrect HTTP method for uri [/_reindex] and method [POST], allowed: [GET, PUT, DELETE, HEAD]"
OS_CREATE_BODY = {
    "error": {
        "root_cause": [{"type": "illegal_argument_exception", "reason": "Failed to build analyzers: [a]"}],
        "type": "illegal_argument_exception",
        "reason": "Failed to build analyzers: [a]",
        "suppressed": [
            {
                "type": "illegal_argument_exception",
                "reason": "[a] Custom Analyzer [a] failed to find filter under name [nope_filter]",
            }
        ],
    },
    "status": 400,
}


@pytest.mark.parametrize("reason", [ES_CREATE, ES_ANALYZE])
def test_a_missing_asciifolding_names_the_analysis_common_module(reason: str) -> None:
    missing = missing_component(reason)
    assert missing is not None
    assert (missing.kind, missing.name, missing.module) == ("token filter", "asciifolding", ANALYSIS_COMMON)
    assert missing.describe() == "lacks the token filter 'asciifolding' of the analysis-common module"
    assert "analysis-common" in missing.hint()


def test_a_missing_component_is_found_deep_in_an_error_body() -> None:
    missing = find_missing_component(OS_CREATE_BODY)
    assert missing is not None
    assert (missing.name, missing.module) == ("nope_filter", None)
    assert "not built in" in missing.describe()


@pytest.mark.parametrize("reason", [ES_REINDEX, "no handler found for uri [/_reindex] and method [POST]"])
def test_a_missing_reindex_api_names_the_reindex_module(reason: str) -> None:
    missing = missing_reindex(reason)
    assert missing is not None and missing.module == REINDEX


def test_other_errors_are_not_mistaken_for_missing_components() -> None:
    assert missing_component("mapper [city] cannot be changed from type [keyword] to [text]") is None
    assert missing_reindex("Incorrect HTTP method for uri [/events] and method [POST]") is None
    assert find_missing_component({"error": {"reason": "index [events_v1] already exists"}}) is None


def test_loaded_modules_are_those_every_node_has() -> None:
    answer = {
        "nodes": {
            "a": {"modules": [{"name": "reindex"}, {"name": "analysis-common"}], "plugins": []},
            "b": {"modules": [{"name": "analysis-common"}], "plugins": [{"name": "reindex"}]},
            "c": {"modules": [{"name": "analysis-common"}]},
        }
    }
    assert loaded_modules(answer) == {"analysis-common"}
    assert loaded_modules({"nodes": {}}) == set()
