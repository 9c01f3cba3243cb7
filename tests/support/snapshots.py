"""A manifest for the unit tests of the snapshot store and manifest."""

from __future__ import annotations

from ticketctl.snapshot.manifest import EngineVersion, FileEntry, Manifest


def sample_manifest(files: tuple[FileEntry, ...], name: str = "one") -> Manifest:
    return Manifest(
        name=name,
        project="demo",
        created_at="2026-11-30T01:00:00+00:00",
        ticketctl_version="0.1.0",
        engines={"mysql": EngineVersion("mariadb", "10.11.18", "10.11")},
        schema_versions={"events_db": 2},
        index={"alias": "events", "documents": 3},
        redis={"keys": 1, "databases": [0]},
        secrets={"included": False, "salt": "s", "fingerprints": {}},
        methods={"mysql": "copy"},
        files=files,
    )
