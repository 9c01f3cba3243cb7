"""Helpers of the search integration tests: plain HTTP to the real servers, one unique alias per test."""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import server_missing
from ticketctl.config.settings import Settings, load_settings

OPENSEARCH_VAR = "TICKETCTL_TEST_OPENSEARCH_URL"
ELASTICSEARCH_VAR = "TICKETCTL_TEST_ELASTICSEARCH_URL"
LOCK_INDEX = ".ticketctl-locks"

# The engines of the test servers, and those that load the reindex module: OpenSearch's zip has it,
# Elasticsearch's does not (ticketctl's analysis plugin brings token filters only).
ENGINES = ("opensearch", "elasticsearch")
WITH_REINDEX = ("opensearch",)
ON_ENGINES_WITH_REINDEX: pytest.MarkDecorator = pytest.mark.parametrize("search", WITH_REINDEX, indirect=True)
ON_ENGINES_WITHOUT_REINDEX: pytest.MarkDecorator = pytest.mark.parametrize(
    "search", [engine for engine in ENGINES if engine not in WITH_REINDEX], indirect=True
)


class HttpError(Exception):
    def __init__(self, status: int, body: Any):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def http(url: str, method: str, path: str, body: Any = None, *, ndjson: bool = False) -> Any:
    """A plain HTTP call, independent of ticketctl's clients, to set up and to check what is live."""
    data = None
    if body is not None:
        data = body.encode() if ndjson else json.dumps(body).encode()
    content_type = "application/x-ndjson" if ndjson else "application/json"
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as error:
        raw = error.read()
        raise HttpError(error.code, json.loads(raw) if raw else None) from None
    return json.loads(raw) if raw else None


def server_url(variable: str) -> str:
    """The server's URL from the environment, or skip (fail under CI) saying how to start it."""
    url = os.environ.get(variable, "").rstrip("/")
    problem = None
    if not url:
        problem = f"{variable} is not set"
    else:
        try:
            urllib.request.urlopen(url + "/_cluster/health", timeout=5).close()
        except (OSError, urllib.error.URLError) as error:
            problem = f"{variable}={url} does not answer ({error})"
    if problem:
        server_missing(variable.removeprefix("TICKETCTL_TEST_").removesuffix("_URL").title(), problem)
    return url


def new_alias() -> str:
    return f"t{secrets.token_hex(5)}"


@dataclass
class SearchTarget:
    """One real server and a unique alias for one test."""

    url: str
    alias: str
    tmp_path: Path
    created_files: list[Path] = field(default_factory=list)

    def settings(self, **extra: Any) -> Settings:
        overrides: dict[str, tuple[Any, str]] = {
            "search.url": (self.url, "--url"),
            "search.index": (self.alias, "--index"),
            "output_dir": (str(self.tmp_path), "--out"),
        }
        overrides.update({key: (value, f"--{key}") for key, value in extra.items()})
        return load_settings(None, environ={}, overrides=overrides, cwd=self.tmp_path)

    def http(self, method: str, path: str, body: Any = None, *, ndjson: bool = False) -> Any:
        return http(self.url, method, path, body, ndjson=ndjson)

    def _node(self) -> dict[str, Any]:
        answer = self.http("GET", "/_nodes/_local?filter_path=nodes.*.build_flavor,nodes.*.version")
        (node,) = answer["nodes"].values()
        return dict(node)

    @property
    def engine(self) -> str:
        """``elasticsearch`` or ``opensearch``, from the node report (only Elasticsearch has a build flavor)."""
        return "elasticsearch" if "build_flavor" in self._node() else "opensearch"

    @property
    def label(self) -> str:
        """How ticketctl names the server in its messages, e.g. ``Elasticsearch 8.19.21``."""
        return (
            f"{ {'elasticsearch': 'Elasticsearch', 'opensearch': 'OpenSearch'}[self.engine] } {self._node()['version']}"
        )

    @property
    def has_reindex(self) -> bool:
        """Whether the server loads the reindex module (the ``_reindex`` API)."""
        answer = self.http("GET", "/_nodes/plugins?filter_path=nodes.*.modules.name")
        return any(module["name"] == "reindex" for node in answer["nodes"].values() for module in node["modules"])

    def index_names(self) -> list[str]:
        rows = self.http("GET", f"/_cat/indices/{self.alias}*?format=json&h=index&expand_wildcards=all")
        return sorted(row["index"] for row in rows)

    def alias_targets(self) -> dict[str, Any]:
        try:
            return dict(self.http("GET", f"/_alias/{self.alias}"))
        except HttpError as error:
            if error.status == 404:
                return {}
            raise

    def count(self, index: str) -> int:
        self.http("POST", f"/{index}/_refresh")
        return int(self.http("GET", f"/{index}/_count")["count"])

    def index_documents(self, count: int, *, start: int = 0) -> None:
        lines = []
        for number in range(start, start + count):
            lines.append(json.dumps({"index": {"_index": self.alias, "_id": str(number)}}))
            lines.append(
                json.dumps(
                    {
                        "eventId": number,
                        "name": f"Concert {number} in São Paulo",
                        "city": "São Paulo",
                        "date": "2026-05-01T20:00:00.123+00:00",
                        "minPrice": 10.5,
                        "tags": ["music"],
                    },
                    ensure_ascii=False,
                )
            )
        answer = self.http("POST", "/_bulk?refresh=true", "\n".join(lines) + "\n", ndjson=True)
        assert answer["errors"] is False, answer

    def copy_into_next_version(self) -> tuple[str, str]:
        """What ``index migrate --reindex`` leaves behind, made over plain HTTP for a server without ``_reindex``.

        The next version gets the current one's settings, mappings and ticketctl ``_meta``, and its
        documents (copied with ``_search`` and ``_bulk``); the current one is write-blocked and the
        alias moves in one ``_aliases`` call. Returns (old, new).
        """
        (old,) = self.alias_targets()
        new = f"{self.alias}_v{int(old.rsplit('_v', 1)[1]) + 1}"
        live = self.http("GET", f"/{old}")[old]
        index = live["settings"]["index"]
        settings = {key: index[key] for key in ("number_of_shards", "number_of_replicas", "analysis")}
        self.http("PUT", f"/{new}", {"settings": {"index": settings}, "mappings": live["mappings"]})
        self.http("PUT", f"/{old}/_settings", {"index": {"blocks.write": True}})
        self.http("POST", f"/{old}/_refresh")
        hits = self.http("POST", f"/{old}/_search", {"size": 10000, "sort": ["_doc"]})["hits"]["hits"]
        if hits:
            lines = []
            for hit in hits:
                lines.append(json.dumps({"index": {"_index": new, "_id": hit["_id"]}}))
                lines.append(json.dumps(hit["_source"], ensure_ascii=False))
            answer = self.http("POST", "/_bulk?refresh=true", "\n".join(lines) + "\n", ndjson=True)
            assert answer["errors"] is False, answer
        actions = [
            {"remove": {"index": old, "alias": self.alias}},
            {"add": {"index": new, "alias": self.alias, "is_write_index": True}},
        ]
        self.http("POST", "/_aliases", {"actions": actions})
        return old, new

    def mapping_variant(self, name: str, edit: Any) -> Path:
        """A copy of the packaged mapping changed by ``edit(document)``, written under tmp_path."""
        from ticketctl.search.spec import load_mapping

        document = json.loads(load_mapping().path.read_text(encoding="utf-8"))
        edit(document)
        path = self.tmp_path / name
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
        return path

    def cleanup(self) -> None:
        for name in self.index_names():
            self.http("DELETE", f"/{name}")
        try:
            self.http("DELETE", f"/{LOCK_INDEX}/_doc/{self.alias}?refresh=true")
        except HttpError as error:
            if error.status != 404:
                raise
