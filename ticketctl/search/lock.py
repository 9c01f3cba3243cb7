"""A lock per alias, so that two ticketctl processes never migrate the same index at once.

The lock is a document with the alias as its id in the small hidden index
``.ticketctl-locks``, created with ``op_type=create``: the server lets exactly
one of two simultaneous creations succeed and answers the other 409. The
document names its holder (host, pid, operation) and carries an expiry that
the holder pushes forward while it works (a long reindex calls
:meth:`IndexLock.refresh`). A holder that died leaves a lock that expires;
the next process takes it over with a compare-and-set on ``_seq_no`` and
``_primary_term``, so two processes cannot both take over the same stale lock.
A holder that died on this very machine (same boot and PID namespace, and its
PID gone or reused) is taken over at once rather than at expiry: a ``kill -9``
in the middle of a reindex leaves the live index write-blocked, and waiting
out the expiry would keep it so.

Why a lock document and not "the target index exists": a failed migration
leaves its half-filled target for inspection, and an aborted one must not
block the next forever; an expiring lock handles both, and also guards
``prune`` and ``rollback``, which create no index at all.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ticketctl.clients.search import Request, SearchConnection, SearchRequestError
from ticketctl.errors import LockedError

LOCK_INDEX = ".ticketctl-locks"
DEFAULT_TTL = 120.0
LOCK_INDEX_BODY: dict[str, Any] = {
    "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1", "hidden": True}},
    "mappings": {
        "dynamic": False,
        "properties": {
            "owner": {"type": "keyword"},
            "operation": {"type": "keyword"},
            "acquired_at": {"type": "date"},
            "expires_at": {"type": "date", "format": "epoch_millis"},
        },
    },
}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _start_ticks(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot, /proc/<pid>/stat field 22): tells a reused PID apart."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _machine() -> str | None:
    """This boot of this machine and this PID namespace (Linux); None where /proc does not say."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}/{namespace}" if boot else None


def process_id() -> str | None:
    """This process, told apart from any other on any machine: ``<boot>/<pid namespace>/<pid>/<start>``."""
    machine, start = _machine(), _start_ticks(os.getpid())
    return f"{machine}/{os.getpid()}/{start}" if machine and start else None


def holder_is_gone(holder: dict[str, Any]) -> bool:
    """True only when the holder ran here (same boot and PID namespace) and its process no longer exists."""
    recorded = holder.get("process")
    machine = _machine()
    if not isinstance(recorded, str) or machine is None or not recorded.startswith(machine + "/"):
        return False
    pid, _, start = recorded[len(machine) + 1 :].partition("/")
    if not pid.isdigit():
        return False
    return _start_ticks(int(pid)) != start


@dataclass
class IndexLock:
    """The held lock of one alias; use as a context manager around the protected work."""

    connection: SearchConnection
    alias: str
    operation: str
    ttl: float = DEFAULT_TTL
    seq_no: int | None = None
    primary_term: int | None = None

    def __enter__(self) -> IndexLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    @property
    def path(self) -> str:
        return f"/{LOCK_INDEX}/_doc/{self.alias}"

    def _document(self) -> dict[str, Any]:
        now = _now_ms()
        return {
            "owner": owner_id(),
            "process": process_id(),
            "operation": self.operation,
            "acquired_at": _iso(now),
            "expires_at": now + int(self.ttl * 1000),
        }

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockedError` naming the holder."""
        if self.connection.dry_run:
            return
        self._ensure_index()
        try:
            answer = self.connection.send(
                Request("PUT", f"/{LOCK_INDEX}/_create/{self.alias}", {"refresh": "false"}, self._document())
            )
        except SearchRequestError as error:
            if error.status != 409:
                raise
            self._take_over_if_stale()
            return
        self._remember(answer)

    def refresh(self) -> None:
        """Push the expiry forward; raise :class:`LockedError` if another process took the lock."""
        if self.connection.dry_run or self.seq_no is None:
            return
        try:
            answer = self.connection.send(
                Request(
                    "PUT",
                    self.path,
                    {"if_seq_no": str(self.seq_no), "if_primary_term": str(self.primary_term)},
                    self._document(),
                )
            )
        except SearchRequestError as error:
            if error.status == 409:
                raise LockedError(
                    f"lost the lock on {self.alias}: another process took it over while this one worked",
                    hint="check who holds it with 'ticketctl index status'; nothing was swapped",
                ) from error
            raise
        self._remember(answer)

    def release(self) -> None:
        """Delete the lock document if this process still holds it."""
        if self.connection.dry_run or self.seq_no is None:
            return
        try:
            self.connection.send(
                Request(
                    "DELETE",
                    self.path,
                    {"if_seq_no": str(self.seq_no), "if_primary_term": str(self.primary_term)},
                )
            )
        except SearchRequestError:
            pass  # taken over or already gone: the lock is not ours to delete any more
        finally:
            self.seq_no = None

    def _ensure_index(self) -> None:
        try:
            self.connection.send(Request("PUT", f"/{LOCK_INDEX}", body=LOCK_INDEX_BODY))
        except SearchRequestError as error:
            if error.error_type != "resource_already_exists_exception":
                raise

    def _take_over_if_stale(self) -> None:
        current = self.connection.send(Request("GET", self.path))
        holder = current.get("_source") or {}
        expires = holder.get("expires_at")
        if isinstance(expires, int | float) and expires > _now_ms() and not holder_is_gone(holder):
            raise LockedError(
                f"index {self.alias} is locked by {holder.get('operation', '?')} of {holder.get('owner', '?')} "
                f"since {holder.get('acquired_at', '?')}",
                hint=f"wait for it to finish; if that process is gone the lock expires at {_iso(int(expires))}",
            )
        try:
            answer = self.connection.send(
                Request(
                    "PUT",
                    self.path,
                    {"if_seq_no": str(current["_seq_no"]), "if_primary_term": str(current["_primary_term"])},
                    self._document(),
                )
            )
        except SearchRequestError as error:
            if error.status == 409:
                raise LockedError(
                    f"index {self.alias}: another process took over the expired lock first",
                    hint="wait for it to finish and run the command again",
                ) from error
            raise
        self._remember(answer)

    def _remember(self, answer: Any) -> None:
        self.seq_no = int(answer["_seq_no"])
        self.primary_term = int(answer["_primary_term"])
