"""Index drift: what was changed on the live index outside ticketctl, since ticketctl last applied the file.

``index diff`` compares the live index with the mapping file: a difference
there may just be a newer file. Drift compares it with the spec ticketctl
*recorded* in the index's ``_meta`` when it created or migrated it: a difference
there was made through the search API by hand (a field added by a ``PUT
_mapping``, a setting changed by a ``PUT _settings``).

The live side counts every setting someone can set, not only those the file
manages: only what the server writes itself (:data:`SERVER_SETTINGS`) is left
out. An index made by an older ticketctl recorded only the spec's hash; then
the file stands in for the recorded spec when its hash is the recorded one,
and otherwise drift is reported without its fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ticketctl.search.changes import diff_specs
from ticketctl.search.spec import ALWAYS_MANAGED, NormalSpec, flatten_settings, live_spec
from ticketctl.search.state import LiveIndex

# Settings an Elasticsearch or OpenSearch node writes on an index by itself.
SERVER_SETTINGS = frozenset(
    {
        "creation_date",
        "uuid",
        "version.created",
        "version.upgraded",
        "provided_name",
        "routing.allocation.include._tier_preference",
        "replication.type",
        "verified_before_close",
    }
)
SERVER_SETTING_PREFIXES = ("resize.", "history.", "shrink.")


@dataclass(frozen=True)
class HandChange:
    """One difference between the spec ticketctl applied and the live index: ``applied`` → ``live``."""

    area: Literal["settings", "mappings"]
    path: str
    kind: Literal["added", "removed", "changed"]
    applied: Any
    live: Any

    def describe(self) -> str:
        where = f"setting {self.path}" if self.area == "settings" else f"mapping {self.path}"
        if self.kind == "added":
            return f"{where} added outside ticketctl: {_short(self.live)}"
        if self.kind == "removed":
            return f"{where} removed outside ticketctl (was {_short(self.applied)})"
        return f"{where} changed outside ticketctl: {_short(self.applied)} → {_short(self.live)}"

    def as_dict(self) -> dict[str, Any]:
        return {"area": self.area, "path": self.path, "kind": self.kind, "applied": self.applied, "live": self.live}


@dataclass(frozen=True)
class IndexDrift:
    """Changes made by hand to the alias's index; ``itemised`` False when the recorded spec is unknown."""

    index: str
    changes: tuple[HandChange, ...]
    itemised: bool = True
    note: str = ""

    @property
    def drifted(self) -> bool:
        return bool(self.changes) or not self.itemised

    def describe(self) -> str:
        if not self.itemised:
            return self.note
        return "; ".join(change.describe() for change in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "drift": self.drifted,
            "itemised": self.itemised,
            "note": self.note,
            "changes": [change.as_dict() for change in self.changes],
        }


def hand_changes(target: LiveIndex, wanted: NormalSpec) -> IndexDrift:
    """What differs between the spec recorded in ``target``'s ``_meta`` and ``target`` as it is now.

    ``wanted`` is the file's spec now: it stands in for the recorded spec of an
    index made before ticketctl recorded specs, when the recorded hash is its.
    """
    now = _everything_settable(target)
    recorded = _recorded_spec(target)
    if recorded is None and target.recorded_hash == wanted.digest():
        recorded = wanted
    if recorded is None:
        managed = target.normal_spec()
        if target.recorded_hash is None:
            note = f"{target.name} has no ticketctl _meta: it was not created by ticketctl, so drift is unknown"
            return IndexDrift(target.name, (), itemised=False, note=note)
        if managed.digest() == target.recorded_hash:
            extra = [key for key in now.settings if key not in managed.settings]
            added = tuple(HandChange("settings", key, "added", None, now.settings[key]) for key in sorted(extra))
            return IndexDrift(target.name, added)
        note = (
            f"{target.name} differs from the spec ticketctl applied (recorded hash {target.recorded_hash[:12]}, "
            f"live {managed.digest()[:12]}); an older ticketctl did not record the spec, so the fields are unknown"
        )
        return IndexDrift(target.name, (), itemised=False, note=note)
    changes = tuple(
        HandChange(change.area, change.path, change.kind, change.live, change.wanted)
        for change in diff_specs(recorded, now)
    )
    return IndexDrift(target.name, changes)


def _recorded_spec(target: LiveIndex) -> NormalSpec | None:
    spec = target.tool_meta.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("settings"), dict):
        return None
    mappings = spec.get("mappings")
    return NormalSpec(settings=dict(spec["settings"]), mappings=dict(mappings) if isinstance(mappings, dict) else {})


def _everything_settable(target: LiveIndex) -> NormalSpec:
    """The live index with every setting someone set (by file or by hand), not only those the file manages."""
    keys = [key for key in flatten_settings(target.settings) if not _server_setting(key)]
    return live_spec(target.settings, target.mappings, managed_keys=[*keys, *ALWAYS_MANAGED])


def _server_setting(key: str) -> bool:
    return key in SERVER_SETTINGS or key.startswith(SERVER_SETTING_PREFIXES)


def _short(value: Any, limit: int = 120) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
