"""One ``up`` or ``down`` at a time per Docker endpoint and project.

An advisory ``fcntl`` lock on a file named after the project and a hash of
the Engine endpoint. The kernel drops it when the holder exits, even by
``kill -9``, so a crashed run never leaves a stale lock. A second run waits
(bounded) and then refuses with :class:`~ticketctl.errors.LockedError` naming
the holder. Across machines sharing one remote Engine, the unique container
names (``<project>-<service>-1``) are the backstop: the Engine refuses a
duplicate create.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ticketctl.errors import LockedError


def lock_dir() -> Path:
    """``$XDG_RUNTIME_DIR/ticketctl`` or a private folder in the temporary directory."""
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime_dir) if runtime_dir and Path(runtime_dir).is_dir() else Path(tempfile.gettempdir())
    folder = base / ("ticketctl" if runtime_dir else f"ticketctl-{os.getuid()}")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def lock_path(endpoint: str, project: str, folder: Path | None = None) -> Path:
    digest = hashlib.sha256(f"{endpoint}\0{project}".encode()).hexdigest()[:16]
    return (folder or lock_dir()) / f"{project}-{digest}.lock"


@contextlib.contextmanager
def project_lock(
    endpoint: str,
    project: str,
    command: str,
    *,
    timeout: float,
    on_wait: Callable[[str], None] | None = None,
    folder: Path | None = None,
    poll: float = 0.2,
) -> Iterator[Path]:
    """Hold the project's lock for the ``with`` block; wait up to ``timeout`` seconds for it."""
    path = lock_path(endpoint, project, folder)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _describe_holder(path)
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"another ticketctl ({holder}) is changing project {project!r} on {endpoint}; "
                        f"waited {timeout:g}s",
                        hint="wait for it to finish, or raise --lock-timeout",
                    ) from None
                if not announced and on_wait is not None:
                    on_wait(holder)
                    announced = True
                time.sleep(poll)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps({"pid": os.getpid(), "command": command}).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _describe_holder(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        data = {}
    if isinstance(data, dict) and data.get("pid"):
        return f"`ticketctl {data.get('command', '?')}`, pid {data['pid']}"
    return "another process"
