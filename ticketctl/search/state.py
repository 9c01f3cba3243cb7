"""What is live on the server for one alias: its target, every version, and their specs.

Two read requests describe everything ticketctl manages for an alias
``events``: ``GET /events*`` (settings, mappings and aliases of every matching
index; the wildcard also resolves the alias itself) and ``GET _cat/indices``
(health, status and document count). Versions are the indices named
``events_v<N>``; a concrete index named ``events`` is reported as a conflict
(the alias cannot be created next to it; ``adopt`` resolves it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ticketctl.clients.search import Request, SearchConnection
from ticketctl.search.spec import TOOL_META_KEY, NormalSpec, live_spec


def version_name(alias: str, version: int) -> str:
    return f"{alias}_v{version}"


def version_of(alias: str, index: str) -> int | None:
    match = re.fullmatch(re.escape(alias) + r"_v([1-9][0-9]{0,8})", index)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class LiveIndex:
    """One concrete index as the server describes it."""

    name: str
    version: int | None
    aliases: dict[str, dict[str, Any]]
    settings: dict[str, Any] = field(repr=False)
    mappings: dict[str, Any] = field(repr=False)
    health: str | None = None
    status: str | None = None
    docs: int | None = None

    @property
    def tool_meta(self) -> dict[str, Any]:
        meta = (self.mappings.get("_meta") or {}).get(TOOL_META_KEY)
        return dict(meta) if isinstance(meta, dict) else {}

    @property
    def recorded_hash(self) -> str | None:
        value = self.tool_meta.get("spec_hash")
        return value if isinstance(value, str) else None

    @property
    def managed_keys(self) -> list[str]:
        keys = self.tool_meta.get("managed_settings")
        return [str(key) for key in keys] if isinstance(keys, list) else []

    @property
    def write_blocked(self) -> bool:
        value = self.settings.get("index.blocks.write", self.settings.get("blocks.write"))
        return str(value).lower() == "true"

    @property
    def is_closed(self) -> bool:
        return self.status == "close"

    def normal_spec(self, extra_managed_keys: list[str] | None = None) -> NormalSpec:
        return live_spec(self.settings, self.mappings, managed_keys=[*self.managed_keys, *(extra_managed_keys or [])])

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.name,
            "version": self.version,
            "aliases": sorted(self.aliases),
            "health": self.health,
            "status": self.status,
            "docs": self.docs,
            "write_blocked": self.write_blocked,
            "spec_hash_recorded": self.recorded_hash,
        }


@dataclass(frozen=True)
class AliasState:
    """The alias, the index it points to, every ``<alias>_v<N>`` version, and a same-named concrete index."""

    alias: str
    targets: tuple[LiveIndex, ...]
    versions: tuple[LiveIndex, ...]
    conflicting_index: LiveIndex | None = None

    @property
    def target(self) -> LiveIndex | None:
        """The alias's write index (or its only index)."""
        if len(self.targets) == 1:
            return self.targets[0]
        writers = [index for index in self.targets if index.aliases.get(self.alias, {}).get("is_write_index")]
        return writers[0] if len(writers) == 1 else None

    @property
    def exists(self) -> bool:
        return bool(self.targets)

    @property
    def next_version(self) -> int:
        numbers = [index.version for index in (*self.versions, *self.targets) if index.version is not None]
        return max(numbers, default=0) + 1

    @property
    def unaliased_versions(self) -> list[LiveIndex]:
        """Versions no alias at all points to (candidates for rollback and prune), oldest first."""
        return [index for index in self.versions if not index.aliases]

    def version(self, number: int) -> LiveIndex | None:
        return next((index for index in self.versions if index.version == number), None)

    def find(self, name: str) -> LiveIndex | None:
        return next((index for index in (*self.versions, *self.targets) if index.name == name), None)


def read_state(connection: SearchConnection, alias: str) -> AliasState:
    """Describe the alias and its versions with two read requests."""
    described = connection.send(
        Request(
            "GET",
            f"/{alias}*",
            {"flat_settings": "true", "expand_wildcards": "open,closed", "allow_no_indices": "true"},
        )
    )
    rows = connection.send(
        Request(
            "GET",
            f"/_cat/indices/{alias}*",
            {"format": "json", "h": "index,health,status,docs.count", "expand_wildcards": "open,closed"},
        )
    )
    stats = {row.get("index"): row for row in rows or [] if isinstance(row, Mapping)}
    indices = [_live_index(alias, name, body, stats.get(name, {})) for name, body in (described or {}).items()]
    targets = tuple(sorted((index for index in indices if alias in index.aliases), key=_order))
    versions = tuple(sorted((index for index in indices if index.version is not None), key=_order))
    conflict = next((index for index in indices if index.name == alias), None)
    return AliasState(alias=alias, targets=targets, versions=versions, conflicting_index=conflict)


def _order(index: LiveIndex) -> tuple[int, str]:
    return (index.version or 0, index.name)


def _live_index(alias: str, name: str, body: Mapping[str, Any], stats: Mapping[str, Any]) -> LiveIndex:
    docs = stats.get("docs.count")
    return LiveIndex(
        name=name,
        version=version_of(alias, name),
        aliases={key: dict(value or {}) for key, value in (body.get("aliases") or {}).items()},
        settings=dict(body.get("settings") or {}),
        mappings=dict(body.get("mappings") or {}),
        health=stats.get("health"),
        status=stats.get("status"),
        docs=int(docs) if isinstance(docs, str) and docs.isdigit() else None,
    )


def count_documents(connection: SearchConnection, index: str) -> int:
    """An exact document count (``_count`` sees every refreshed document, unlike ``_cat``)."""
    answer = connection.send(Request("GET", f"/{index}/_count"))
    return int(answer["count"])
