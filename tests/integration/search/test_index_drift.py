"""Index drift on both engines: what is changed through the search API by hand is named against the spec
ticketctl recorded in ``_meta``; ``doctor`` turns red with the fix, and only reads to find out."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.support.search_targets import SearchTarget
from ticketctl.errors import ExitCode
from ticketctl.search import create_index, diff, index_status
from ticketctl.search.spec import TOOL_META_KEY

pytestmark = pytest.mark.integration


def doctor(search: SearchTarget, *names: str) -> tuple[int, dict[str, Any]]:
    env = {
        "TICKETCTL_SEARCH__URL": search.url,
        "TICKETCTL_SEARCH__INDEX": search.alias,
        "TICKETCTL_DOCKER__ENABLED": "false",
        "PATH": "/usr/bin:/bin",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ticketctl", "doctor", "--json", *names],
        cwd=search.tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_new_index_records_its_spec_and_has_no_drift(search: SearchTarget) -> None:
    created = create_index(search.settings())
    live = search.http("GET", f"/{created.index}/_mapping")[created.index]["mappings"]["_meta"][TOOL_META_KEY]
    assert live["spec_hash"] == created.spec_hash
    assert set(live["spec"]) == {"settings", "mappings"}
    status = index_status(search.settings())
    assert status.state == "in_sync"
    assert status.drift is not None and not status.drift.drifted and status.drift.itemised


def test_a_field_and_a_setting_added_through_the_api_are_named(search: SearchTarget) -> None:
    created = create_index(search.settings())
    search.http("PUT", f"/{created.index}/_mapping", {"properties": {"promo_code": {"type": "keyword"}}})
    search.http("PUT", f"/{created.index}/_settings", {"index": {"refresh_interval": "30s"}})

    result = diff(search.settings())
    assert result.drift is not None
    named = {(change.area, change.path, change.kind, json.dumps(change.live)) for change in result.drift.changes}
    assert named == {
        ("mappings", "promo_code", "added", '{"type": "keyword"}'),
        ("settings", "refresh_interval", "added", '"30s"'),
    }
    # Against the file, the hand-made field is one ticketctl would have to remove (a reindex);
    # the setting is not one the file manages, so it is drift only.
    assert [(change.path, change.kind, change.in_place) for change in result.changes] == [
        ("promo_code", "removed", False)
    ]

    code, report = doctor(search, "search")
    assert code == ExitCode.CHECKS_FAILED
    checks = {check["name"]: check for check in report["checks"]}
    index = checks["search.index"]
    assert index["status"] == "fail"
    assert "was changed outside ticketctl" in index["summary"]
    assert "mapping promo_code added outside ticketctl" in index["summary"]
    assert "setting refresh_interval added outside ticketctl: 30s" in index["summary"]
    assert index["fix"].startswith("ticketctl index migrate --reindex puts the spec of ")
    # The analyzer is checked on the live index: no probe index is created.
    assert checks["search.analyzer"]["status"] == "ok"
    assert search.index_names() == [created.index]


def test_a_changed_setting_is_named_with_both_values(search: SearchTarget) -> None:
    created = create_index(search.settings())
    search.http("PUT", f"/{created.index}/_settings", {"index": {"number_of_replicas": 2}})
    status = index_status(search.settings())
    assert status.drift is not None
    assert [(c.path, c.kind, c.applied, c.live) for c in status.drift.changes] == [
        ("number_of_replicas", "changed", "0", "2")
    ]
    assert [c.describe() for c in status.drift.changes] == [
        "setting number_of_replicas changed outside ticketctl: 0 → 2"
    ]


def test_an_index_of_an_older_ticketctl_without_a_recorded_spec(search: SearchTarget) -> None:
    """Only the hash was recorded: the file stands in for the spec while its hash is the recorded one."""
    created = create_index(search.settings())
    mapping = search.http("GET", f"/{created.index}/_mapping")[created.index]["mappings"]
    meta = mapping["_meta"]
    del meta[TOOL_META_KEY]["spec"]
    search.http("PUT", f"/{created.index}/_mapping", {"_meta": meta})
    assert index_status(search.settings()).drift.changes == ()  # type: ignore[union-attr]
    search.http("PUT", f"/{created.index}/_mapping", {"properties": {"promo_code": {"type": "keyword"}}})
    drift = index_status(search.settings()).drift
    assert drift is not None and drift.itemised
    assert [change.path for change in drift.changes] == ["promo_code"]


def test_an_index_not_made_by_ticketctl_has_unknown_drift(search: SearchTarget) -> None:
    """A version made by hand (no ticketctl _meta) is not claimed to be in or out of drift."""
    body = {"settings": {"index": {"number_of_replicas": 0}}, "mappings": {"properties": {"name": {"type": "text"}}}}
    search.http("PUT", f"/{search.alias}_v1", {**body, "aliases": {search.alias: {"is_write_index": True}}})
    drift = index_status(search.settings()).drift
    assert drift is not None and not drift.itemised and drift.drifted
    assert "was not created by ticketctl" in drift.note
