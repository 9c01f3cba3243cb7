"""Differences between a live index and the file, each marked "in place" or "needs reindex".

Both sides are :class:`~ticketctl.search.spec.NormalSpec`, so server defaults
and string/boolean forms never show up as changes. The classification follows
what Elasticsearch and OpenSearch accept on an existing index:

* in place: a new field or sub-field; an updatable mapping parameter
  (``ignore_above``, ``search_analyzer``, ``meta``, …); the mapping's
  ``dynamic`` and ``_meta``; a dynamic index setting (replicas,
  refresh_interval, …).
* needs reindex: a removed field, a changed field type or a non-updatable
  parameter (``analyzer``, ``format``, …), the number of shards, analysis
  (it decides how the documents already stored were indexed), any static
  setting, or one ticketctl does not know to be dynamic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ticketctl.search.spec import REPLICAS, SHARDS, NormalSpec

ChangeKind = Literal["added", "removed", "changed"]

# Index settings that can be changed on an open index (ES and OpenSearch "dynamic" settings).
DYNAMIC_SETTINGS = frozenset(
    {
        REPLICAS,
        "auto_expand_replicas",
        "refresh_interval",
        "max_result_window",
        "max_inner_result_window",
        "max_rescore_window",
        "max_docvalue_fields_search",
        "max_script_fields",
        "max_ngram_diff",
        "max_shingle_diff",
        "max_refresh_listeners",
        "max_terms_count",
        "max_regex_length",
        "analyze.max_token_count",
        "highlight.max_analyzed_offset",
        "default_pipeline",
        "final_pipeline",
        "gc_deletes",
        "priority",
        "query.default_field",
        "search.idle.after",
        "write.wait_for_active_shards",
        "unassigned.node_left.delayed_timeout",
        "translog.durability",
        "translog.sync_interval",
        "translog.flush_threshold_size",
        "mapping.total_fields.limit",
        "mapping.depth.limit",
        "mapping.nested_fields.limit",
        "mapping.nested_objects.limit",
        "mapping.field_name_length.limit",
        "hidden",
    }
)
DYNAMIC_SETTING_PREFIXES = (
    "blocks.",
    "routing.allocation.",
    "routing.rebalance.",
    "search.slowlog.",
    "indexing.slowlog.",
)

# Field mapping parameters that a PUT _mapping may change on an existing field.
UPDATABLE_FIELD_PARAMS = frozenset(
    {"ignore_above", "ignore_malformed", "search_analyzer", "search_quote_analyzer", "meta", "dynamic"}
)
# Top-level mapping keys that a PUT _mapping may change.
UPDATABLE_MAPPING_KEYS = frozenset(
    {"dynamic", "date_detection", "numeric_detection", "dynamic_templates", "dynamic_date_formats", "_meta"}
)


@dataclass(frozen=True)
class Change:
    """One difference; ``live`` and ``wanted`` are None when the key is absent on that side."""

    area: Literal["settings", "mappings"]
    path: str
    kind: ChangeKind
    live: Any
    wanted: Any
    in_place: bool
    reason: str

    @property
    def action(self) -> str:
        return "in place" if self.in_place else "needs reindex"

    def as_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "path": self.path,
            "kind": self.kind,
            "live": self.live,
            "wanted": self.wanted,
            "action": "in_place" if self.in_place else "reindex",
            "reason": self.reason,
        }


def diff_specs(live: NormalSpec, wanted: NormalSpec) -> list[Change]:
    """Every difference between a live index and the file, settings first, in a stable order."""
    return [*_diff_settings(live.settings, wanted.settings), *_diff_mappings(live.mappings, wanted.mappings)]


def needs_reindex(changes: list[Change]) -> bool:
    return any(not change.in_place for change in changes)


# --------------------------------------------------------------------------- settings


def is_dynamic_setting(key: str) -> bool:
    return key in DYNAMIC_SETTINGS or key.startswith(DYNAMIC_SETTING_PREFIXES)


def _setting_reason(key: str, in_place: bool) -> str:
    if in_place:
        return "dynamic setting, updated on the live index"
    if key == SHARDS:
        return "the number of primary shards is fixed when an index is created"
    if key.startswith("analysis."):
        return "analysis decides how stored documents were indexed; a new version re-analyses them"
    return "static setting, fixed when an index is created"


def _diff_settings(live: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(set(live) | set(wanted)):
        before, after = live.get(key), wanted.get(key)
        if before == after:
            continue
        kind: ChangeKind = "added" if key not in live else "removed" if key not in wanted else "changed"
        in_place = is_dynamic_setting(key)
        changes.append(Change("settings", key, kind, before, after, in_place, _setting_reason(key, in_place)))
    return changes


# --------------------------------------------------------------------------- mappings


def flatten_fields(mappings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Field path (``name``, ``name.keyword``, ``venue.address.city``) → its parameters.

    Sub-fields (``fields``) and object properties become paths of their own,
    so that adding a sub-field reads as an added field, not a changed one.
    """
    fields: dict[str, dict[str, Any]] = {}

    def walk(properties: Mapping[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            fields[path] = {key: value for key, value in spec.items() if key not in ("properties", "fields")}
            if isinstance(spec.get("properties"), Mapping):
                walk(spec["properties"], path + ".")
            if isinstance(spec.get("fields"), Mapping):
                walk(spec["fields"], path + ".")

    walk(mappings.get("properties") or {}, "")
    return fields


def _diff_mappings(live: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for key in sorted((set(live) | set(wanted)) - {"properties"}):
        before, after = live.get(key), wanted.get(key)
        if before != after:
            kind: ChangeKind = "added" if key not in live else "removed" if key not in wanted else "changed"
            # PUT _mapping merges: a key left out keeps its live value, so only _meta (always sent whole) can go.
            in_place = key in UPDATABLE_MAPPING_KEYS and (kind != "removed" or key == "_meta")
            reason = "updated with PUT _mapping" if in_place else "fixed when an index is created"
            if key in UPDATABLE_MAPPING_KEYS and not in_place:
                reason = "PUT _mapping cannot remove it; a new version can"
            changes.append(Change("mappings", key, kind, before, after, in_place, reason))
    live_fields, wanted_fields = flatten_fields(live), flatten_fields(wanted)
    for path in sorted(set(live_fields) | set(wanted_fields)):
        changes.extend(_diff_field(path, live_fields.get(path), wanted_fields.get(path)))
    return changes


def _diff_field(path: str, live: dict[str, Any] | None, wanted: dict[str, Any] | None) -> list[Change]:
    if live is None:
        return [Change("mappings", path, "added", None, wanted, True, "new field, added with PUT _mapping")]
    if wanted is None:
        return [Change("mappings", path, "removed", live, None, False, "a field cannot be removed from a mapping")]
    if live.get("type") != wanted.get("type"):
        return [
            Change(
                "mappings",
                f"{path}.type",
                "changed",
                live.get("type"),
                wanted.get("type"),
                False,
                "a field's type cannot change",
            )
        ]
    changes: list[Change] = []
    for param in sorted((set(live) | set(wanted)) - {"type"}):
        before, after = live.get(param), wanted.get(param)
        if before == after:
            continue
        kind: ChangeKind = "added" if param not in live else "removed" if param not in wanted else "changed"
        in_place = param in UPDATABLE_FIELD_PARAMS
        reason = "updatable mapping parameter" if in_place else f"{param!r} cannot change on an existing field"
        changes.append(Change("mappings", f"{path}.{param}", kind, before, after, in_place, reason))
    return changes
