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

from tests.support.servers import server_missing
from ticketctl.config.settings import Settings, load_settings

OPENSEARCH_VAR = "TICKETCTL_TEST_OPENSEARCH_URL"
ELASTICSEARCH_VAR = "TICKETCTL_TEST_ELASTICSEARCH_URL"
LOCK_INDEX = ".ticketctl-locks"


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
