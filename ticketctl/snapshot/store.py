"""The snapshot folder: one sub-folder per snapshot, written under a temporary name and renamed at the end.

``<snapshots.dir>/<name>/`` is a complete snapshot (it has its manifest).
``<snapshots.dir>/.partial-<name>-<pid>/`` is a save in progress, or one
that was interrupted: ``list`` shows it as incomplete and the next ``save``
removes it when its process is gone. ``<snapshots.dir>/.restore-journal.json``
records a restore in progress, so that an interrupted restore is finished by
the next one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ticketctl.errors import FileWriteError, MissingError
from ticketctl.snapshot.manifest import Manifest, SnapshotError, read_manifest

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
PARTIAL_PREFIX = ".partial-"
JOURNAL_FILENAME = ".restore-journal.json"
FOLDER_MODE = 0o700
FILE_MODE = 0o600


class SnapshotNotFoundError(MissingError):
    """No snapshot (complete or not) of that name in the snapshots folder."""


@dataclass(frozen=True)
class Listed:
    """A row of ``snapshot list``: a complete snapshot, or the leftovers of an interrupted save."""

    name: str
    path: Path
    manifest: Manifest | None
    size: int
    modified: datetime
    state: str  # complete | incomplete | in progress | damaged
    reason: str = ""

    def as_dict(self, now: datetime) -> dict[str, Any]:
        manifest = self.manifest
        created = datetime.fromisoformat(manifest.created_at) if manifest else self.modified
        return {
            "name": self.name,
            "state": self.state,
            "path": str(self.path),
            "created_at": created.isoformat(),
            "age_seconds": round((now - created).total_seconds()),
            "size_bytes": self.size,
            "project": manifest.project if manifest else None,
            "schema_versions": dict(manifest.schema_versions) if manifest else None,
            "secrets_included": bool(manifest.secrets.get("included")) if manifest else None,
            "safety_for": manifest.safety_for if manifest else None,
            "reason": self.reason or None,
        }


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise SnapshotError(
            f"snapshot name {name!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
            hint="for example `ticketctl snapshot save before-migration`",
        )
    return name


def default_name(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


class SnapshotStore:
    """The snapshots of one stack, in ``settings.snapshots_dir``."""

    def __init__(self, root: Path):
        self.root = root

    def ensure(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise FileWriteError(
                f"{self.root}: cannot create the snapshot folder: {error.strerror}",
                hint="set snapshots.dir to a writable folder",
            ) from None

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def open(self, name: str) -> Manifest:
        """The manifest of a complete snapshot, or an error naming what is wrong with it."""
        folder = self.path(name)
        if not folder.is_dir():
            known = ", ".join(item.name for item in self.listed() if item.state == "complete") or "none"
            raise SnapshotNotFoundError(
                f"no snapshot named {name!r} in {self.root}",
                hint=f"`ticketctl snapshot list` shows them (complete: {known})",
            )
        return read_manifest(folder)

    @contextlib.contextmanager
    def staging(self, name: str, *, private: bool) -> Iterator[Path]:
        """A temporary folder that becomes ``<name>`` when the block ends without an error."""
        self.ensure()
        self.clean_leftovers()
        final = self.path(name)
        if final.exists():
            raise SnapshotError(
                f"a snapshot named {name!r} exists already ({final})",
                hint="choose another name, or remove it first with `ticketctl snapshot rm`",
            )
        partial = self.root / f"{PARTIAL_PREFIX}{name}-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(mode=FOLDER_MODE if private else 0o755)
        try:
            yield partial
        except BaseException:
            # Ctrl-C and failures remove their half snapshot; kill -9 leaves it to the next save.
            shutil.rmtree(partial, ignore_errors=True)
            raise
        _fsync_folder(partial)
        os.replace(partial, final)
        _fsync_folder(self.root)

    def clean_leftovers(self) -> list[str]:
        """Remove the temporary folders of saves whose process is gone."""
        removed = []
        for item in self._partials():
            pid = _pid_of(item.name)
            if pid is not None and _alive(pid):
                continue
            shutil.rmtree(item, ignore_errors=True)
            removed.append(item.name)
        return removed

    def listed(self) -> list[Listed]:
        if not self.root.is_dir():
            return []
        rows: list[Listed] = []
        for item in sorted(self.root.iterdir()):
            if not item.is_dir():
                continue
            if item.name.startswith(PARTIAL_PREFIX):
                pid = _pid_of(item.name)
                running = pid is not None and _alive(pid)
                rows.append(
                    Listed(
                        name=item.name,
                        path=item,
                        manifest=None,
                        size=_folder_size(item),
                        modified=_mtime(item),
                        state="in progress" if running else "incomplete",
                        reason=f"save running (pid {pid})" if running else "interrupted save; the next save removes it",
                    )
                )
                continue
            if item.name.startswith("."):
                continue
            try:
                manifest = read_manifest(item)
            except SnapshotError as error:
                rows.append(Listed(item.name, item, None, _folder_size(item), _mtime(item), "damaged", error.message))
                continue
            rows.append(Listed(item.name, item, manifest, manifest.size, _mtime(item), "complete"))
        rows.sort(key=lambda row: row.manifest.created_at if row.manifest else row.modified.isoformat())
        return rows

    def newest(self) -> Listed | None:
        complete = [row for row in self.listed() if row.state == "complete"]
        return complete[-1] if complete else None

    def remove(self, name: str) -> Path:
        folder = self.root / name
        if name.startswith(PARTIAL_PREFIX) and folder.is_dir():
            shutil.rmtree(folder)
            return folder
        folder = self.path(name)
        if not folder.is_dir():
            raise SnapshotNotFoundError(
                f"no snapshot named {name!r} in {self.root}", hint="`ticketctl snapshot list` shows them"
            )
        journal = self.read_journal()
        if journal and name in (journal.get("snapshot"), journal.get("safety")):
            raise SnapshotError(
                f"snapshot {name!r} belongs to an unfinished restore",
                hint=f"finish it first: `ticketctl snapshot restore {journal.get('snapshot')}`",
            )
        # Renamed away first: an interrupted rm never leaves a folder that still looks complete.
        doomed = self.root / f"{PARTIAL_PREFIX}rm-{name}-{os.getpid()}"
        os.replace(folder, doomed)
        shutil.rmtree(doomed)
        return folder

    # ------------------------------------------------------------------ the restore journal

    @property
    def journal_path(self) -> Path:
        return self.root / JOURNAL_FILENAME

    def read_journal(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.journal_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_journal(self, data: dict[str, Any]) -> None:
        self.ensure()
        temporary = self.journal_path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.journal_path)

    def clear_journal(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.journal_path.unlink()

    def _partials(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [item for item in self.root.iterdir() if item.is_dir() and item.name.startswith(PARTIAL_PREFIX)]


def _pid_of(name: str) -> int | None:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _folder_size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file():
                total += path.stat().st_size
    return total


def _mtime(folder: Path) -> datetime:
    return datetime.fromtimestamp(folder.stat().st_mtime, UTC)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
