"""A manifest for the tests of the snapshot store, manifest and doctor checks; the schema a fresh stack has."""

from __future__ import annotations

from pathlib import Path

from ticketctl.migrations.files import parse_filename
from ticketctl.snapshot.manifest import EngineVersion, FileEntry, Manifest

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def newest_versions() -> dict[str, int]:
    """Database key (events, inventory, bookings) → the highest version in the packaged schemas/ folder."""
    found: dict[str, int] = {}
    for folder in sorted(path for path in SCHEMAS.iterdir() if path.is_dir()):
        versions = [parsed[0] for file in folder.glob("V*.sql") if (parsed := parse_filename(file.name))]
        found[folder.name] = max(versions, default=0)
    return found


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
