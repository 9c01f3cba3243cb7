"""Index drift without a server: the live index beside the spec recorded in its ``_meta``."""

from __future__ import annotations

from typing import Any

from ticketctl.search.drift import hand_changes
from ticketctl.search.spec import TOOL_META_KEY, desired_spec, load_mapping, managed_setting_keys, mappings_body
from ticketctl.search.state import LiveIndex

SERVER_WRITTEN = {
    "index.creation_date": "1796005938801",
    "index.uuid": "Cysx9LzxTX20_g9R3btSQw",
    "index.version.created": "8537000",
    "index.provided_name": "events_v1",
    "index.routing.allocation.include._tier_preference": "data_content",
    "index.replication.type": "DOCUMENT",
}


def live_index(*, record_spec: bool = True, extra_settings: dict[str, Any] | None = None) -> tuple[LiveIndex, Any]:
    """The index as ticketctl created it and the server echoes it: flat string settings, server keys added."""
    mapping = load_mapping()
    wanted = desired_spec(mapping, shards=1, replicas=0)
    mappings = mappings_body(mapping, wanted)
    if not record_spec:
        del mappings["_meta"][TOOL_META_KEY]["spec"]
    settings = {f"index.{key}": value for key, value in wanted.settings.items() if key in managed_setting_keys(mapping)}
    settings |= SERVER_WRITTEN | (extra_settings or {})
    return LiveIndex("events_v1", 1, {"events": {}}, settings, mappings), wanted


def test_as_created_there_is_no_drift_whatever_the_server_adds() -> None:
    index, wanted = live_index()
    assert hand_changes(index, wanted).changes == ()


def test_a_setting_set_by_hand_is_drift_even_one_the_file_never_manages() -> None:
    index, wanted = live_index(extra_settings={"index.refresh_interval": "30s", "index.blocks.write": "true"})
    assert [change.describe() for change in hand_changes(index, wanted).changes] == [
        "setting blocks.write added outside ticketctl: true",
        "setting refresh_interval added outside ticketctl: 30s",
    ]


def test_a_field_added_by_hand_is_drift() -> None:
    index, wanted = live_index()
    index.mappings["properties"]["promo_code"] = {"type": "keyword"}
    drift = hand_changes(index, wanted)
    assert [(c.area, c.path, c.kind) for c in drift.changes] == [("mappings", "promo_code", "added")]


def test_without_a_recorded_spec_the_file_stands_in_while_its_hash_is_the_recorded_one() -> None:
    index, wanted = live_index(record_spec=False)
    index.mappings["properties"]["promo_code"] = {"type": "keyword"}
    assert [c.path for c in hand_changes(index, wanted).changes] == ["promo_code"]
    newer = desired_spec(load_mapping(), shards=1, replicas=1)  # the file moved on since: its hash differs
    drift = hand_changes(index, newer)
    assert not drift.itemised and drift.drifted
    assert "an older ticketctl did not record the spec" in drift.note
