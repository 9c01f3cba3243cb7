"""The snapshot folder: a save becomes visible only when complete; leftovers are shown, then cleaned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.snapshots import sample_manifest
from ticketctl.snapshot.manifest import SnapshotError, write_manifest
from ticketctl.snapshot.store import SnapshotNotFoundError, SnapshotStore, check_name


def _complete(store: SnapshotStore, name: str) -> None:
    with store.staging(name, private=True) as folder:
        write_manifest(folder, sample_manifest((), name), 0o600)


def test_a_staged_snapshot_appears_under_its_name_only_at_the_end(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    with store.staging("one", private=True) as folder:
        assert folder.name == f".partial-one-{os.getpid()}"
        assert folder.stat().st_mode & 0o777 == 0o700
        assert [row.state for row in store.listed()] == ["in progress"]
        write_manifest(folder, sample_manifest(()), 0o600)
    assert [(row.name, row.state) for row in store.listed()] == [("one", "complete")]
    assert store.newest() is not None and store.newest().name == "one"  # type: ignore[union-attr]


def test_a_failed_save_leaves_nothing(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    with pytest.raises(RuntimeError), store.staging("one", private=True):
        raise RuntimeError("disk full")
    assert store.listed() == []


def test_the_leftover_of_a_killed_save_is_listed_incomplete_and_cleaned_by_the_next_save(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    dead = tmp_path / ".partial-old-999999999"
    dead.mkdir()
    (dead / "mysql-data.tar").write_bytes(b"half")
    (tmp_path / "noman").mkdir()  # a folder without a manifest: never "complete"
    rows = {row.name: row.state for row in store.listed()}
    assert rows == {".partial-old-999999999": "incomplete", "noman": "damaged"}
    _complete(store, "new")
    assert not dead.exists()


def test_names_are_checked_and_duplicates_refused(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    with pytest.raises(SnapshotError, match=r"snapshot name '\.\./x'"):
        check_name("../x")
    _complete(store, "one")
    with pytest.raises(SnapshotError, match="exists already"):
        _complete(store, "one")


def test_rm_removes_and_refuses_what_an_unfinished_restore_needs(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    _complete(store, "one")
    _complete(store, "two")
    store.write_journal({"snapshot": "one", "safety": None, "phase": "apply"})
    assert store.journal_path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(SnapshotError, match="unfinished restore"):
        store.remove("one")
    store.remove("two")
    store.clear_journal()
    store.remove("one")
    assert store.listed() == []
    with pytest.raises(SnapshotNotFoundError):
        store.open("one")
