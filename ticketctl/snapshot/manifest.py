"""The manifest of a snapshot: what was taken, from where, and the size and SHA-256 of every file.

A snapshot folder is complete when, and only when, its ``manifest.json`` is
there: it is the last file written before the folder gets its final name, so
whatever a crash leaves behind has no manifest and is never shown as good.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ticketctl.errors import ConfigError, FileWriteError

MANIFEST_FILENAME = "manifest.json"
FORMAT = 1
CHUNK = 4 << 20


class SnapshotError(ConfigError):
    """A snapshot is missing, damaged, or does not fit the stack it would be restored into."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a snapshot: its name in the folder, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class EngineVersion:
    """Which server made a part of the snapshot; ``series`` is what compatibility is judged on."""

    product: str  # mysql, mariadb, redis, elasticsearch, opensearch
    version: str
    series: str  # "10.11", "8.4", "7", "3"

    @property
    def label(self) -> str:
        return f"{self.product} {self.version}"


@dataclass(frozen=True)
class Manifest:
    """Everything ``restore`` checks before it changes anything, and what ``list`` shows."""

    name: str
    project: str
    created_at: str
    ticketctl_version: str
    engines: Mapping[str, EngineVersion]
    schema_versions: Mapping[str, int]  # database name -> highest applied migration version (0: none)
    index: Mapping[str, Any]  # alias, indices, target, spec_hash, documents
    redis: Mapping[str, Any]  # keys, databases
    secrets: Mapping[str, Any]  # included, salt, fingerprints
    methods: Mapping[str, str]
    files: tuple[FileEntry, ...]
    seconds: float = 0.0
    safety_for: str | None = None  # the snapshot whose restore this one was taken before
    format: int = FORMAT
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.files)

    def file(self, path: str) -> FileEntry | None:
        return next((entry for entry in self.files if entry.path == path), None)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [asdict(entry) for entry in self.files]
        data["engines"] = {key: asdict(value) for key, value in self.engines.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: Path) -> Manifest:
        try:
            if int(data.get("format", 0)) > FORMAT:
                raise SnapshotError(
                    f"{where}: written by a newer ticketctl (format {data['format']})",
                    hint="upgrade ticketctl to restore it",
                )
            return cls(
                name=str(data["name"]),
                project=str(data["project"]),
                created_at=str(data["created_at"]),
                ticketctl_version=str(data["ticketctl_version"]),
                engines={key: EngineVersion(**value) for key, value in dict(data["engines"]).items()},
                schema_versions={str(k): int(v) for k, v in dict(data["schema_versions"]).items()},
                index=dict(data["index"]),
                redis=dict(data["redis"]),
                secrets=dict(data["secrets"]),
                methods=dict(data["methods"]),
                files=tuple(FileEntry(**entry) for entry in data["files"]),
                seconds=float(data.get("seconds", 0.0)),
                safety_for=data.get("safety_for"),
                format=int(data.get("format", FORMAT)),
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SnapshotError(
                f"{where}: not a ticketctl snapshot manifest ({type(error).__name__}: {error})",
                hint="remove the folder with `ticketctl snapshot rm`, or restore another snapshot",
            ) from None


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(
            f"{folder}: no {MANIFEST_FILENAME}: the snapshot is incomplete (its save was interrupted)",
            hint="remove it with `ticketctl snapshot rm`; take a new one with `ticketctl snapshot save`",
        ) from None
    except (OSError, ValueError) as error:
        raise SnapshotError(
            f"{path}: cannot read: {error}", hint="the snapshot is damaged; restore another snapshot"
        ) from None
    if not isinstance(data, dict):
        raise SnapshotError(f"{path}: not a JSON object", hint="the snapshot is damaged; restore another snapshot")
    return Manifest.from_dict(data, path)


def write_manifest(folder: Path, manifest: Manifest, mode: int) -> None:
    """Write the manifest last, flushed to disk, so that its presence means every file before it is there."""
    path = folder / MANIFEST_FILENAME
    data = (json.dumps(manifest.as_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise FileWriteError(f"{path}: cannot write: {error.strerror}", hint="free disk space and save again") from None


class HashingWriter:
    """A file being written with its size and SHA-256 taken on the way (no second read)."""

    def __init__(self, folder: Path, name: str, mode: int):
        self.path = folder / name
        self.name = name
        self._digest = hashlib.sha256()
        self._size = 0
        try:
            self._handle: BinaryIO = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb")
        except OSError as error:
            raise FileWriteError(f"{self.path}: cannot write: {error.strerror}", hint="check the folder") from None

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self._size += len(data)
        try:
            return self._handle.write(data)
        except OSError as error:
            raise FileWriteError(
                f"{self.path}: cannot write: {error.strerror}",
                hint="free disk space (the partial snapshot is left as incomplete) and save again",
            ) from None

    def write_all(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> FileEntry:
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        finally:
            self._handle.close()
        return FileEntry(self.name, self._size, self._digest.hexdigest())

    def abort(self) -> None:
        self._handle.close()


def file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def verify_files(folder: Path, manifest: Manifest) -> None:
    """Refuse a snapshot whose files are missing or differ from the manifest, naming the first such file."""
    for entry in manifest.files:
        path = folder / entry.path
        try:
            size, digest = file_digest(path)
        except FileNotFoundError:
            raise SnapshotError(
                f"snapshot {manifest.name}: {entry.path} is missing", hint="restore another snapshot"
            ) from None
        if size != entry.size or digest != entry.sha256:
            what = f"size {size}, expected {entry.size}" if size != entry.size else "SHA-256 differs from the manifest"
            raise SnapshotError(
                f"snapshot {manifest.name}: {entry.path} is damaged ({what})",
                hint="restore another snapshot (`ticketctl snapshot list`); this one cannot be trusted",
            )


def fingerprint(salt: str, value: str) -> str:
    """A salted SHA-256 of a secret: tells whether a secret changed without holding it."""
    return hashlib.sha256(f"{salt}\0{value}".encode()).hexdigest()
