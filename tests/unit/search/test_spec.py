"""The mapping file, its normal form and the spec hash: no false drift, no missed drift."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ticketctl import __version__
from ticketctl.errors import ConfigError
from ticketctl.search.jsonpos import key_lines
from ticketctl.search.spec import (
    TOOL_META_KEY,
    MappingFile,
    creation_body,
    desired_spec,
    flatten_settings,
    live_spec,
    load_mapping,
    managed_setting_keys,
    normal_mappings,
)

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"


def write(tmp_path: Path, document: Any, name: str = "events.json") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2), encoding="utf-8")
    return path


def packaged() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(load_mapping().path.read_text(encoding="utf-8"))
    return document


def captured(name: str) -> dict[str, Any]:
    body = json.loads((DATA / name).read_text(encoding="utf-8"))
    assert len(body) == 1
    return next(iter(body.values()))


# --------------------------------------------------------------------------- the packaged file


def test_packaged_mapping_keeps_the_original_fields_and_the_two_deliberate_changes() -> None:
    mapping = load_mapping()
    properties = mapping.mappings["properties"]
    assert set(properties) == {
        "eventId", "name", "city", "venue", "category", "date", "minPrice", "maxPrice",
        "availability", "availableSeats", "totalSeats", "description", "tags",
    }  # fmt: skip
    assert properties["name"]["fields"]["keyword"] == {"type": "keyword"}
    assert properties["date"]["format"] == "yyyy-MM-dd'T'HH:mm:ss'Z'||strict_date_optional_time||epoch_millis"
    analyzer = mapping.settings["analysis"]["analyzer"]["event_name_analyzer"]
    assert analyzer == {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}
    assert "number_of_shards" not in json.dumps(mapping.settings)
    assert "number_of_replicas" not in json.dumps(mapping.settings)
    assert mapping.schema_version == 1
    assert mapping.analyzer_examples["event_name_analyzer"]["São Paulo"] == ["sao", "paulo"]


# --------------------------------------------------------------------------- live == file


@pytest.mark.parametrize("capture", ["opensearch-3.6.0-get-index.json", "elasticsearch-8.19.21-get-index.json"])
def test_a_live_index_created_from_the_file_normalises_to_the_file(capture: str) -> None:
    """The real GET /<index>?flat_settings answers (strings, index. prefixes, server settings) show no drift."""
    mapping = load_mapping()
    live = captured(capture)
    assert live["settings"]["index.number_of_shards"] == "1"  # the server answers strings
    wanted = desired_spec(mapping, shards=1, replicas=0)
    got = live_spec(live["settings"], live["mappings"], managed_keys=managed_setting_keys(mapping))
    assert got == wanted
    assert got.digest() == wanted.digest()
    assert live["mappings"]["_meta"][TOOL_META_KEY]["spec_hash"] == wanted.digest()


def test_the_captured_index_differs_once_replicas_differ() -> None:
    mapping = load_mapping()
    live = captured("opensearch-3.6.0-get-index.json")
    got = live_spec(live["settings"], live["mappings"], managed_keys=[])
    assert got.digest() != desired_spec(mapping, shards=1, replicas=1).digest()
    assert got.digest() != desired_spec(mapping, shards=2, replicas=0).digest()


def test_string_and_boolean_forms_and_prefixes_compare_equal(tmp_path: Path) -> None:
    document = packaged()
    document["settings"]["refresh_interval"] = "5s"
    document["settings"]["index.max_result_window"] = 20000
    document["mappings"]["properties"]["city"]["ignore_above"] = 256
    document["mappings"]["properties"]["isActive"] = {"type": "boolean", "index": False}
    mapping = load_mapping(write(tmp_path, document))
    live_settings = {
        "index": {
            "refresh_interval": "5s",
            "max_result_window": "20000",
            "number_of_shards": "1",
            "number_of_replicas": "0",
            "uuid": "server-made",
            "creation_date": "1795495281617",
            "analysis": {
                "analyzer": {
                    "event_name_analyzer": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": {"0": "lowercase", "1": "asciifolding"},
                    }
                }
            },
        }
    }
    live_mappings = copy.deepcopy(document["mappings"])
    live_mappings["properties"]["city"]["ignore_above"] = "256"
    live_mappings["properties"]["isActive"]["index"] = "false"
    live_mappings["_meta"][TOOL_META_KEY] = {"spec_hash": "whatever", "tool_version": "0.0.1"}
    got = live_spec(live_settings, live_mappings, managed_keys=managed_setting_keys(mapping))
    assert got.digest() == desired_spec(mapping, shards=1, replicas=0).digest()


def test_numbered_array_keys_fold_back_into_lists() -> None:
    flat = flatten_settings(
        {"index.analysis.analyzer.a.filter.0": "lowercase", "index.analysis.analyzer.a.filter.1": "asciifolding"}
    )
    assert flat == {"analysis.analyzer.a.filter": ["lowercase", "asciifolding"]}


def test_implicit_object_type_is_dropped() -> None:
    with_type = {"properties": {"venue": {"type": "object", "properties": {"city": {"type": "keyword"}}}}}
    without = {"properties": {"venue": {"properties": {"city": {"type": "keyword"}}}}}
    assert normal_mappings(with_type) == normal_mappings(without)


def test_hash_ignores_key_order_but_not_filter_order(tmp_path: Path) -> None:
    document = packaged()
    reordered = {"mappings": document["mappings"], "settings": document["settings"]}
    reordered["mappings"]["properties"] = dict(reversed(list(document["mappings"]["properties"].items())))
    first = desired_spec(load_mapping(write(tmp_path, packaged(), "a.json")), shards=1, replicas=0)
    second = desired_spec(load_mapping(write(tmp_path, reordered, "b.json")), shards=1, replicas=0)
    assert first.digest() == second.digest()
    swapped = packaged()
    swapped["settings"]["analysis"]["analyzer"]["event_name_analyzer"]["filter"] = ["asciifolding", "lowercase"]
    third = desired_spec(load_mapping(write(tmp_path, swapped, "c.json")), shards=1, replicas=0)
    assert third.digest() != first.digest()


def test_hash_sees_a_new_field_and_a_meta_change(tmp_path: Path) -> None:
    base = desired_spec(load_mapping(), shards=1, replicas=0).digest()
    added = packaged()
    added["mappings"]["properties"]["subtitle"] = {"type": "text"}
    assert desired_spec(load_mapping(write(tmp_path, added, "a.json")), shards=1, replicas=0).digest() != base
    bumped = packaged()
    bumped["mappings"]["_meta"]["schema_version"] = 2
    assert desired_spec(load_mapping(write(tmp_path, bumped, "b.json")), shards=1, replicas=0).digest() != base


def test_a_setting_recorded_at_the_last_apply_but_gone_from_the_file_counts() -> None:
    mapping = load_mapping()
    live = captured("opensearch-3.6.0-get-index.json")
    settings = {**live["settings"], "index.refresh_interval": "30s"}
    ignored = live_spec(settings, live["mappings"], managed_keys=managed_setting_keys(mapping))
    assert "refresh_interval" not in ignored.settings  # a server or operator setting ticketctl never managed
    recorded = live_spec(settings, live["mappings"], managed_keys=[*managed_setting_keys(mapping), "refresh_interval"])
    assert recorded.settings["refresh_interval"] == "30s"


# --------------------------------------------------------------------------- request body


def test_creation_body_sets_sizing_meta_and_the_alias_as_write_index() -> None:
    mapping = load_mapping()
    spec = desired_spec(mapping, shards=3, replicas=1)
    digest = spec.digest()
    body = creation_body(mapping, shards=3, replicas=1, alias="events", spec=spec)
    assert body["aliases"] == {"events": {"is_write_index": True}}
    assert body["settings"]["index"]["number_of_shards"] == 3
    assert body["settings"]["index"]["number_of_replicas"] == 1
    assert body["settings"]["index"]["analysis"]["analyzer"]["event_name_analyzer"]["filter"] == [
        "lowercase",
        "asciifolding",
    ]
    meta = body["mappings"]["_meta"]
    assert meta["schema_version"] == 1
    assert meta[TOOL_META_KEY]["spec_hash"] == digest
    assert meta[TOOL_META_KEY]["schema_version"] == 1
    assert meta[TOOL_META_KEY]["tool_version"] == __version__
    assert meta[TOOL_META_KEY]["spec"] == {"settings": spec.settings, "mappings": spec.mappings}
    assert "number_of_shards" in meta[TOOL_META_KEY]["managed_settings"]
    assert TOOL_META_KEY not in (mapping.mappings.get("_meta") or {})  # the file's dict was not mutated


# --------------------------------------------------------------------------- file errors


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "settings": {},\n  "mappings": {"properties": {},}\n}\n')
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    assert caught.value.message == f"{path}:3:33: invalid JSON: Expecting property name enclosed in double quotes"


def test_shards_in_the_file_are_refused_at_their_line(tmp_path: Path) -> None:
    document = packaged()
    document["settings"] = {"number_of_shards": 3, **document["settings"]}
    path = write(tmp_path, document)
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "number_of_shards" in text)
    assert caught.value.message.startswith(f"{path}:{line}: settings.number_of_shards")
    assert caught.value.hint is not None and "search.shards" in caught.value.hint


def test_replicas_nested_under_index_are_refused_too(tmp_path: Path) -> None:
    document = packaged()
    document["settings"]["index"] = {"number_of_replicas": 1}
    with pytest.raises(ConfigError, match="number_of_replicas") as caught:
        load_mapping(write(tmp_path, document))
    assert caught.value.hint is not None and "search.replicas" in caught.value.hint


def test_an_aliases_block_is_refused(tmp_path: Path) -> None:
    document = packaged()
    document["aliases"] = {"events": {}}
    with pytest.raises(ConfigError, match="unexpected top-level key 'aliases'") as caught:
        load_mapping(write(tmp_path, document))
    assert caught.value.hint is not None and "search.index" in caught.value.hint


def test_mappings_without_properties_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'properties' object"):
        load_mapping(write(tmp_path, {"settings": {}, "mappings": {"dynamic": "strict"}}))


def test_a_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping file not found"):
        load_mapping(tmp_path / "nope.json")


def test_where_names_the_line_of_a_nested_key() -> None:
    mapping = load_mapping()
    text = mapping.path.read_text(encoding="utf-8").splitlines()
    line = int(mapping.where("mappings", "properties", "date", "format").rsplit(":", 1)[1])
    assert '"format"' in text[line - 1]


def test_key_lines_follow_nesting_and_arrays() -> None:
    text = '{\n "a": {\n  "b": [\n   1,\n   {"c": "x\\"y"}\n  ]\n },\n "d": true\n}'
    lines = key_lines(text)
    assert lines[("a",)] == 2
    assert lines[("a", "b")] == 3
    assert lines[("a", "b", 0)] == 4
    assert lines[("a", "b", 1, "c")] == 5
    assert lines[("d",)] == 8


def test_mapping_file_where_falls_back_to_the_nearest_ancestor() -> None:
    mapping = MappingFile(path=Path("x.json"), display="x.json", settings={}, mappings={}, lines={(): 1, ("a",): 4})
    assert mapping.where("a", "b", "c") == "x.json:4"
    assert mapping.where("zzz") == "x.json:1"


def test_keys_written_twice_are_found_with_both_lines() -> None:
    from ticketctl.search.jsonpos import DuplicateKey, scan_keys

    text = '{"a": {"b": 1,\n "c": [{"x": 1}, {"x": 2}],\n "b": 2}}'
    assert scan_keys(text)[1] == [DuplicateKey(("a", "b"), 3, 1)]  # the same key in two array items is no duplicate


def test_a_mapping_file_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    path.write_text('{"mappings": {"properties": {\n  "name": {"type": "text"},\n  "name": {"type": "keyword"}\n}}}\n')
    with pytest.raises(ConfigError, match=r"twice.json:3: mappings.properties.name: set twice in the same object, "):
        load_mapping(path)
