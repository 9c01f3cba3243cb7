"""Diff classification: each change is "in place" or "needs reindex", and nothing else shows up."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ticketctl.search.changes import Change, diff_specs, needs_reindex
from ticketctl.search.spec import NormalSpec, desired_spec, load_mapping

pytestmark = pytest.mark.unit


def base() -> NormalSpec:
    return desired_spec(load_mapping(), shards=1, replicas=0)


def mutate(edit: Callable[[dict[str, Any], dict[str, Any]], None]) -> NormalSpec:
    spec = base()
    settings, mappings = copy.deepcopy(spec.settings), copy.deepcopy(spec.mappings)
    edit(settings, mappings)
    return NormalSpec(settings=settings, mappings=mappings)


def props(mappings: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = mappings["properties"]
    return result


def only(changes: list[Change]) -> Change:
    assert len(changes) == 1, changes
    return changes[0]


def test_identical_specs_have_no_changes() -> None:
    assert diff_specs(base(), base()) == []


@pytest.mark.parametrize(
    ("edit", "path", "kind", "in_place"),
    [
        (lambda s, m: props(m).update(subtitle={"type": "text"}), "subtitle", "added", True),
        (lambda s, m: props(m)["city"].update(fields={"raw": {"type": "keyword"}}), "city.raw", "added", True),
        (lambda s, m: props(m).pop("tags"), "tags", "removed", False),
        (lambda s, m: props(m)["city"].update(type="text"), "city.type", "changed", False),
        (lambda s, m: props(m)["name"].update(analyzer="standard"), "name.analyzer", "changed", False),
        (lambda s, m: props(m)["date"].update(format="epoch_millis"), "date.format", "changed", False),
        (lambda s, m: props(m)["city"].update(ignore_above="256"), "city.ignore_above", "added", True),
        (lambda s, m: props(m)["name"].update(search_analyzer="standard"), "name.search_analyzer", "added", True),
        (lambda s, m: props(m)["city"].update(doc_values="false"), "city.doc_values", "added", False),
        (lambda s, m: m["_meta"].update(schema_version="2"), "_meta", "changed", True),
        (lambda s, m: m.update(dynamic="strict"), "dynamic", "added", True),
        (lambda s, m: m.update(_source={"enabled": "false"}), "_source", "added", False),
        (lambda s, m: s.update(number_of_replicas="1"), "number_of_replicas", "changed", True),
        (lambda s, m: s.update(number_of_shards="3"), "number_of_shards", "changed", False),
        (lambda s, m: s.update(refresh_interval="30s"), "refresh_interval", "added", True),
        (lambda s, m: s.update({"blocks.write": "true"}), "blocks.write", "added", True),
        (lambda s, m: s.update(codec="best_compression"), "codec", "added", False),
        (
            lambda s, m: s.update({"analysis.analyzer.event_name_analyzer.filter": ["lowercase"]}),
            "analysis.analyzer.event_name_analyzer.filter",
            "changed",
            False,
        ),
        (lambda s, m: s.update({"some.unknown.setting": "x"}), "some.unknown.setting", "added", False),
    ],
)
def test_classification(
    edit: Callable[[dict[str, Any], dict[str, Any]], None], path: str, kind: str, in_place: bool
) -> None:
    change = only(diff_specs(base(), mutate(edit)))
    assert (change.path, change.kind, change.in_place) == (path, kind, in_place)
    assert change.reason
    assert change.action == ("in place" if in_place else "needs reindex")


def test_a_field_present_live_but_not_in_the_file_needs_a_reindex() -> None:
    live = mutate(lambda s, m: props(m).update(extra={"type": "keyword"}))
    change = only(diff_specs(live, base()))
    assert (change.path, change.kind, change.in_place) == ("extra", "removed", False)
    assert change.live == {"type": "keyword"}
    assert change.wanted is None


def test_removing_a_top_level_mapping_key_is_in_place_only_for_meta() -> None:
    live = mutate(lambda s, m: m.update(dynamic="strict"))
    removed = only(diff_specs(live, base()))
    assert (removed.path, removed.kind, removed.in_place) == ("dynamic", "removed", False)  # a merge keeps it
    no_meta = mutate(lambda s, m: m.pop("_meta"))
    assert only(diff_specs(base(), no_meta)).in_place is True


def test_needs_reindex_is_true_when_any_change_needs_it() -> None:
    def edit(settings: dict[str, Any], mappings: dict[str, Any]) -> None:
        props(mappings)["subtitle"] = {"type": "text"}
        settings["number_of_shards"] = "2"

    wanted = mutate(edit)
    changes = diff_specs(base(), wanted)
    assert [change.in_place for change in changes] == [False, True]  # settings first, then mappings
    assert needs_reindex(changes)
    assert not needs_reindex([change for change in changes if change.in_place])


def test_object_sub_properties_are_fields_of_their_own() -> None:
    live = mutate(lambda s, m: props(m).update(place={"properties": {"city": {"type": "keyword"}}}))
    wanted = mutate(
        lambda s, m: props(m).update(place={"properties": {"city": {"type": "keyword"}, "zip": {"type": "keyword"}}})
    )
    change = only(diff_specs(live, wanted))
    assert (change.path, change.kind, change.in_place) == ("place.zip", "added", True)


def test_as_dict_is_json_ready() -> None:
    change = only(diff_specs(base(), mutate(lambda s, m: s.update(number_of_shards="2"))))
    assert change.as_dict() == {
        "area": "settings",
        "path": "number_of_shards",
        "kind": "changed",
        "live": "1",
        "wanted": "2",
        "action": "reindex",
        "reason": "the number of primary shards is fixed when an index is created",
    }
