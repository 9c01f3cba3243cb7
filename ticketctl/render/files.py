"""Rendered files and how they are written: atomically, and not at all when unchanged.

:func:`write_file` writes through a temporary file and a rename, so an
interrupted or failed write leaves the old file intact.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketctl.errors import FileWriteError


@dataclass(frozen=True)
class RenderedFile:
    """One rendered file: its path relative to the output folder and its content."""

    name: str
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    status: str  # created | updated | unchanged


@dataclass(frozen=True)
class RenderResult:
    """What render did: files and their status, and which secrets it generated (names only)."""

    output_dir: Path
    files: tuple[WrittenFile, ...]
    generated_secrets: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "output_dir": str(self.output_dir),
            "files": [{"path": str(f.path), "status": f.status} for f in self.files],
            "generated_secrets": list(self.generated_secrets),
            "warnings": list(self.warnings),
        }


def write_file(path: Path, content: str, mode: int = 0o644) -> WrittenFile:
    """Write ``content`` atomically; leave the file untouched when it already has it."""
    data = content.encode("utf-8")
    try:
        if path.read_bytes() == data:
            if (path.stat().st_mode & 0o777) != mode:
                os.chmod(path, mode)
            return WrittenFile(path, "unchanged")
        status = "updated"
    except (FileNotFoundError, NotADirectoryError):
        status = "created"
    except OSError as error:
        raise FileWriteError(f"{path}: cannot read: {error.strerror}", hint="check the folder's permissions") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise FileWriteError(
            f"{path.parent}: cannot write: {error.strerror}",
            hint="choose a writable folder with --out or output_dir, or fix its permissions",
        ) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise FileWriteError(
            f"{path}: cannot write: {error.strerror}; the previous file is unchanged",
            hint="free disk space or fix the folder's permissions, then run the command again",
        ) from None
    return WrittenFile(path, status)
