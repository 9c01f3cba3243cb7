"""What every index verb shares: its session on the server, and the reads and refusals they have in common.

A verb that compares the live index with the mapping file opens a
:class:`MappedSession` (the file is loaded and checked before any request is
sent); one that only moves the alias or deletes versions opens an
:class:`IndexSession`. Either records the requests and warnings of this verb
only, so that a connection shared by several verbs reports each one's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from ticketctl.clients.search import SearchConnection, connect
from ticketctl.config.settings import Settings
from ticketctl.errors import ConfigError, ExitCode, SearchError
from ticketctl.events import EventSink
from ticketctl.search.changes import Change, diff_specs
from ticketctl.search.checks import check_mapping
from ticketctl.search.results import (
    EventKind,
    IndexEvent,
    IndexResult,
    MigrateResult,
    PruneResult,
    RollbackResult,
    StatusResult,
)
from ticketctl.search.spec import MappingFile, NormalSpec, desired_spec, load_mapping, managed_setting_keys
from ticketctl.search.state import AliasState, LiveIndex

# How long a writing verb waits for the cluster to turn yellow, in units of search.timeout (10 s → 30 s).
HEALTH_WAIT_TIMEOUTS = 3
_R = TypeVar("_R", IndexResult, StatusResult, MigrateResult, RollbackResult, PruneResult)


class SessionOptions(TypedDict, total=False):
    """What every index verb takes beside the settings and the secrets."""

    dry_run: bool  # record the write requests instead of sending them
    on_event: EventSink | None
    connection: SearchConnection | None  # an open connection to use (left open), instead of one of its own


class MappedOptions(SessionOptions, total=False):
    """What every verb that compares the live index with the mapping file takes."""

    mapping_path: Path | None  # default: the packaged mappings/events.json


@dataclass
class IndexSession:
    """One verb's connection and event sink, and where its own requests and warnings begin."""

    settings: Settings
    connection: SearchConnection
    on_event: EventSink | None
    first_request: int = 0
    first_warning: int = 0

    @property
    def alias(self) -> str:
        return self.settings.search.index

    def emit(self, kind: EventKind, message: str) -> None:
        if self.on_event is not None:
            self.on_event(IndexEvent(kind, message))

    def base(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "server": self.connection.info,
            "dry_run": self.connection.dry_run,
            "requests": self.connection.sent[self.first_request :],
            "warnings": self.connection.warnings[self.first_warning :],
        }

    def final(self, result: _R) -> _R:
        """The result with every request of this verb, including those sent after it was built (lock release)."""
        return replace(result, requests=self.connection.sent[self.first_request :])


@dataclass
class MappedSession(IndexSession):
    """A session of a verb that holds the live index against the mapping file."""

    mapping: MappingFile = field(kw_only=True)

    def desired(self, health: Mapping[str, Any]) -> tuple[NormalSpec, int]:
        """The file's spec for this cluster, and the number of replicas it resolves to."""
        replicas = resolve_replicas(self.settings, int(health.get("number_of_data_nodes") or 1))
        return desired_spec(self.mapping, shards=self.settings.search.shards, replicas=replicas), replicas

    def live_spec(self, target: LiveIndex) -> NormalSpec:
        """The live spec of ``target``, limited to the settings the file manages."""
        return target.normal_spec(managed_setting_keys(self.mapping))

    def changes(self, target: LiveIndex, wanted: NormalSpec) -> list[Change]:
        """What differs between ``target`` and the file."""
        return diff_specs(self.live_spec(target), wanted)


@contextmanager
def index_session(
    settings: Settings,
    secrets: Mapping[str, str] | None,
    *,
    dry_run: bool = False,
    on_event: EventSink | None = None,
    connection: SearchConnection | None = None,
) -> Iterator[IndexSession]:
    """A session on a connection of its own (closed afterwards) or on the one injected."""
    with _connected(settings, secrets, dry_run, connection) as conn:
        session = IndexSession(settings, conn, on_event, len(conn.sent), len(conn.warnings))
        _announce_warnings(session)
        yield session


@contextmanager
def mapped_session(
    settings: Settings,
    secrets: Mapping[str, str] | None,
    *,
    mapping_path: Path | None = None,
    dry_run: bool = False,
    on_event: EventSink | None = None,
    connection: SearchConnection | None = None,
) -> Iterator[MappedSession]:
    """As :func:`index_session`, with the mapping file loaded and checked before the server is contacted."""
    mapping = _load_checked_mapping(mapping_path or settings.search.mapping)
    with _connected(settings, secrets, dry_run, connection) as conn:
        session = MappedSession(settings, conn, on_event, len(conn.sent), len(conn.warnings), mapping=mapping)
        _announce_warnings(session)
        yield session


@contextmanager
def _connected(
    settings: Settings, secrets: Mapping[str, str] | None, dry_run: bool, connection: SearchConnection | None
) -> Iterator[SearchConnection]:
    owned = connection is None
    conn = connection or connect(settings, secrets, dry_run=dry_run)
    if conn.dry_run != dry_run:
        raise ValueError("the injected connection's dry_run differs from the dry_run argument")
    try:
        yield conn
    finally:
        if owned:
            conn.close()


def _announce_warnings(session: IndexSession) -> None:
    for warning in session.connection.warnings:
        session.emit("warning", warning)


def _load_checked_mapping(mapping_path: Path | None) -> MappingFile:
    mapping = load_mapping(mapping_path)
    errors = [issue for issue in check_mapping(mapping) if issue.severity == "error"]
    if errors:
        raise ConfigError(
            errors[0].line() + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            hint=f"'ticketctl index validate --offline --mapping {mapping.display}' lists every finding",
        )
    return mapping


def wait_for_yellow(session: IndexSession) -> dict[str, Any]:
    """Wait until this alias's versions are at least yellow (the node is ready, our shards are placed).

    The health is scoped to ``<alias>_v*`` so that a red index of someone else on a shared
    cluster does not block us; with none of our versions yet, the answer is green at once.
    """
    wait = HEALTH_WAIT_TIMEOUTS * session.settings.search.timeout
    pattern = f"{session.alias}_v*"
    health: dict[str, Any] = session.connection.health(wait_for_status="yellow", index=pattern, timeout=wait)
    if health.get("timed_out") or health.get("status") not in ("yellow", "green"):
        info = session.connection.info
        raise SearchError(
            f"{info.label} at {info.url}: indices {pattern} of cluster {health.get('cluster_name')} are "
            f"{health.get('status')} after {wait:g}s",
            hint="check the server's log and 'GET _cluster/allocation/explain'; ticketctl waits for yellow "
            f"up to {HEALTH_WAIT_TIMEOUTS} × search.timeout",
            exit_code=ExitCode.UNHEALTHY,
        )
    return health


def resolve_replicas(settings: Settings, data_nodes: int) -> int:
    """``search.replicas``: an integer as given; ``auto`` is 0 on one data node (else yellow forever), 1 otherwise."""
    replicas = settings.search.replicas
    if isinstance(replicas, int):
        return replicas
    return 0 if data_nodes <= 1 else 1


def target_of(state: AliasState) -> LiveIndex:
    """The one open index the alias writes to; refused when there is none or it is closed."""
    target = state.target
    if target is None:
        names = ", ".join(index.name for index in state.targets)
        raise SearchError(
            f"alias {state.alias} points to several indices without one write index: {names}",
            hint=f"point it at one with 'ticketctl index rollback --to <version>' (alias {state.alias})",
        )
    if target.is_closed:
        raise SearchError(
            f"{target.name} (alias {state.alias}) is closed", hint=f"open it with 'POST /{target.name}/_open'"
        )
    return target


def refuse_red(session: IndexSession, target: LiveIndex) -> None:
    """A red index has a primary shard nowhere: its documents cannot be counted or searched, and retrying
    the 503 that ``_count`` answers would only delay the news."""
    if target.health != "red":
        return
    info = session.connection.info
    raise SearchError(
        f"{info.label} at {info.url}: index {target.name} (alias {session.alias}) is red: a primary shard is not "
        "allocated, so its documents cannot be read",
        hint=f"'GET _cluster/allocation/explain' says why (a lost node, a full disk, an allocation filter on "
        f"{target.name}); fix that, then run 'ticketctl index status' again",
    )


def refuse_orphans(state: AliasState) -> None:
    """Refuse a concrete index named like the alias, or versions that no alias points to."""
    if state.conflicting_index is not None:
        raise SearchError(
            f"a concrete index named {state.alias} exists, so the alias {state.alias} cannot be created",
            hint=f"'ticketctl index adopt' copies it into {state.alias}_v1 and replaces it by the alias",
        )
    if not state.exists and state.versions:
        names = ", ".join(index.name for index in state.versions)
        raise SearchError(
            f"{names} exist but no alias {state.alias} points to them",
            hint=f"point the alias at one with 'ticketctl index rollback --to <version>' (alias {state.alias})",
        )


def summary(changes: list[Change], limit: int = 3) -> str:
    text = ", ".join(f"{change.path} ({change.kind})" for change in changes[:limit])
    return text + (f" and {len(changes) - limit} more" if len(changes) > limit else "")
