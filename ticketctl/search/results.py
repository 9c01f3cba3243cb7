"""What the index verbs return: plain data for the CLI (text or ``--json``) and for ``up``/``doctor``.

The verbs never print. Progress is :class:`IndexEvent`, one of the
:mod:`ticketctl.events`; the CLI draws them (a rich progress bar for a reindex).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ticketctl.clients.search import Request, SentRequest, ServerInfo
from ticketctl.events import Event
from ticketctl.search.changes import Change
from ticketctl.search.drift import IndexDrift
from ticketctl.search.state import LiveIndex

EventKind = Literal["step", "progress", "warning"]


@dataclass(frozen=True)
class IndexEvent(Event):
    """Progress of a verb: a step ("creating events_v2"), a count (reindex), or a warning."""

    kind: EventKind
    message: str
    done: int | None = None
    total: int | None = None


Confirm = Callable[[str], bool]


@dataclass(frozen=True)
class _Base:
    alias: str
    server: ServerInfo | None
    dry_run: bool
    requests: list[SentRequest] = field(repr=False)
    warnings: list[str]

    @property
    def planned(self) -> list[Request]:
        """The writes a dry run would have sent, in order."""
        return [record.request for record in self.requests if not record.sent]

    def _base_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "alias": self.alias,
            "server": self.server.as_dict() if self.server else None,
            "dry_run": self.dry_run,
            "warnings": self.warnings,
        }
        if self.dry_run:
            data["planned_requests"] = [request.as_dict() for request in self.planned]
        return data


@dataclass(frozen=True)
class IndexResult(_Base):
    """``create``: ``created``, ``up_to_date`` or (dry run) ``planned``."""

    status: Literal["created", "up_to_date", "planned"] = "created"
    index: str | None = None
    spec_hash: str = ""
    replicas: int = 0
    shards: int = 1
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self._base_dict(),
            "status": self.status,
            "index": self.index,
            "spec_hash": self.spec_hash,
            "shards": self.shards,
            "replicas": self.replicas,
            "seconds": round(self.seconds, 3),
        }


StatusState = Literal["in_sync", "drift", "missing"]


@dataclass(frozen=True)
class StatusResult(_Base):
    """``status``: where the alias points, health, documents, and the spec hash live vs file."""

    state: StatusState = "missing"
    index: LiveIndex | None = None
    cluster_health: str | None = None
    docs: int | None = None
    file_hash: str = ""
    live_hash: str | None = None
    changes: list[Change] = field(default_factory=list)
    versions: list[LiveIndex] = field(default_factory=list)
    conflicting_index: str | None = None
    mapping_file: str = ""
    drift: IndexDrift | None = None  # changes made by hand since ticketctl applied the index

    @property
    def recorded_hash(self) -> str | None:
        return self.index.recorded_hash if self.index else None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self._base_dict(),
            "state": self.state,
            "index": self.index.name if self.index else None,
            "health": self.index.health if self.index else None,
            "cluster_health": self.cluster_health,
            "docs": self.docs,
            "write_blocked": self.index.write_blocked if self.index else None,
            "mapping_file": self.mapping_file,
            "spec_hash": {"file": self.file_hash, "live": self.live_hash, "recorded": self.recorded_hash},
            "changes": [change.as_dict() for change in self.changes],
            "versions": [version.as_dict() for version in self.versions],
            "conflicting_index": self.conflicting_index,
            "drift": self.drift.as_dict() if self.drift else None,
        }


@dataclass(frozen=True)
class DiffResult(_Base):
    """``diff``: the changes between the live index and the file, each in place or needs reindex."""

    state: StatusState = "missing"
    index: str | None = None
    changes: list[Change] = field(default_factory=list)
    mapping_file: str = ""
    drift: IndexDrift | None = None

    @property
    def needs_reindex(self) -> bool:
        return any(not change.in_place for change in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self._base_dict(),
            "state": self.state,
            "index": self.index,
            "mapping_file": self.mapping_file,
            "needs_reindex": self.needs_reindex,
            "changes": [change.as_dict() for change in self.changes],
            "drift": self.drift.as_dict() if self.drift else None,
        }


MigrateAction = Literal["up_to_date", "in_place", "reindexed", "adopted", "planned"]


@dataclass(frozen=True)
class MigrateResult(_Base):
    """``migrate`` and ``adopt``: what was applied and where the alias points now."""

    action: MigrateAction = "up_to_date"
    from_index: str | None = None
    to_index: str | None = None
    changes: list[Change] = field(default_factory=list)
    documents: int | None = None
    pruned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    seconds: float = 0.0
    source: Literal["index", "database"] | None = None  # where a reindex copied the documents from
    copy: dict[str, Any] | None = None  # a copy from the database: outbox positions, catch-up, check

    def as_dict(self) -> dict[str, Any]:
        return {
            **self._base_dict(),
            "action": self.action,
            "from_index": self.from_index,
            "to_index": self.to_index,
            "source": self.source,
            "copy": self.copy,
            "documents": self.documents,
            "changes": [change.as_dict() for change in self.changes],
            "pruned": self.pruned,
            "kept": self.kept,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class RollbackResult(_Base):
    from_index: str | None = None
    to_index: str | None = None
    from_docs: int | None = None
    to_docs: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self._base_dict(),
            "from_index": self.from_index,
            "to_index": self.to_index,
            "from_docs": self.from_docs,
            "to_docs": self.to_docs,
        }


@dataclass(frozen=True)
class PruneResult(_Base):
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    documents_deleted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self._base_dict(),
            "deleted": self.deleted,
            "kept": self.kept,
            "documents_deleted": self.documents_deleted,
        }


@dataclass(frozen=True)
class Issue:
    """An offline finding about the mapping file, located at ``file:line``."""

    severity: Literal["error", "warning"]
    where: str
    message: str

    def line(self) -> str:
        return f"{self.where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "where": self.where, "message": self.message}


@dataclass(frozen=True)
class AnalyzerCheck:
    """``_analyze`` of one sample text by one analyzer of the mapping, on the real server."""

    analyzer: str
    text: str
    tokens: list[str]
    expected: list[str] | None

    @property
    def ok(self) -> bool:
        return self.expected is None or self.tokens == self.expected

    def as_dict(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "text": self.text,
            "tokens": self.tokens,
            "expected": self.expected,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class ValidateResult(_Base):
    mapping_file: str = ""
    issues: list[Issue] = field(default_factory=list)
    analyzer_checks: list[AnalyzerCheck] = field(default_factory=list)
    server_checked: bool = False

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors and all(check.ok for check in self.analyzer_checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self._base_dict(),
            "ok": self.ok,
            "mapping_file": self.mapping_file,
            "issues": [issue.as_dict() for issue in self.issues],
            "server_checked": self.server_checked,
            "analyzer_checks": [check.as_dict() for check in self.analyzer_checks],
        }
