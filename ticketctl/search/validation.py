"""``validate``: the mapping file offline, then on the real server.

Offline (:func:`~ticketctl.search.checks.check_mapping`): JSON, field types,
analyzer references, date formats, ``_meta``. On the server: a throwaway,
empty index ``<alias>_validate_<random>`` is created with the file's exact
settings and mappings (the server's own verdict on the whole spec), each
analyzer runs ``_analyze`` on its sample texts from
``_meta.analyzer_examples`` ("São Paulo" → ``sao``, ``paulo``), and the index
is deleted again. A component the server lacks (``asciifolding`` without the
analysis-common module) becomes one line naming the component and the module.
"""

from __future__ import annotations

import secrets as _random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ticketctl.clients.search import Request, SearchConnection, SearchRequestError, connect
from ticketctl.config.settings import Settings
from ticketctl.events import EventSink
from ticketctl.search.checks import check_mapping
from ticketctl.search.reindex import component_error
from ticketctl.search.results import AnalyzerCheck, IndexEvent, ValidateResult
from ticketctl.search.spec import MappingFile, creation_body, desired_spec, flatten_settings, load_mapping

DEFAULT_SAMPLE = "São Paulo"


def analyzer_samples(mapping_file: MappingFile) -> list[tuple[str, str, list[str] | None]]:
    """``(analyzer, text, expected tokens or None)`` for every example and every custom analyzer."""
    samples: list[tuple[str, str, list[str] | None]] = []
    examples = mapping_file.analyzer_examples
    for analyzer, texts in examples.items():
        for text, tokens in texts.items():
            samples.append((analyzer, text, list(tokens)))
    defined = {
        key.split(".")[2] for key in flatten_settings(mapping_file.settings) if key.startswith("analysis.analyzer.")
    }
    for analyzer in sorted(defined - set(examples)):
        samples.append((analyzer, DEFAULT_SAMPLE, None))
    return samples


def validate(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    mapping_path: Path | None = None,
    offline: bool = False,
    live_index: bool = False,
    dry_run: bool = False,
    on_event: EventSink | None = None,
    connection: SearchConnection | None = None,
) -> ValidateResult:
    """Check the mapping file offline and (unless ``offline``) prove it on the server.

    ``live_index`` runs the analyzer samples on the index behind the alias
    instead of a probe index: reads only (``doctor``), and what users' queries meet.
    """
    mapping = load_mapping(mapping_path or settings.search.mapping)
    issues = check_mapping(mapping)
    alias = settings.search.index
    if offline or any(issue.severity == "error" for issue in issues):
        return ValidateResult(
            alias=alias,
            server=None,
            dry_run=dry_run,
            requests=[],
            warnings=[],
            mapping_file=mapping.display,
            issues=issues,
        )
    owned = connection is None
    conn = connection or connect(settings, secrets, dry_run=dry_run)
    try:
        checks = _live_checks(conn, mapping, alias) if live_index else _server_checks(conn, mapping, alias, on_event)
    finally:
        if owned:
            conn.close()
    return ValidateResult(
        alias=alias,
        server=conn.info,
        dry_run=conn.dry_run,
        requests=list(conn.sent),
        warnings=list(conn.warnings),
        mapping_file=mapping.display,
        issues=issues,
        analyzer_checks=checks,
        server_checked=not conn.dry_run,
    )


def _server_checks(
    connection: SearchConnection, mapping: MappingFile, alias: str, on_event: EventSink | None
) -> list[AnalyzerCheck]:
    probe = f"{alias}_validate_{_random.token_hex(4)}"
    spec = desired_spec(mapping, shards=1, replicas=0)
    body = creation_body(mapping, shards=1, replicas=0, alias=None, spec=spec)
    create = Request("PUT", f"/{probe}", {"wait_for_active_shards": "1"}, body)
    samples = analyzer_samples(mapping)
    analyze = _analyze_requests(probe, samples)
    delete = Request("DELETE", f"/{probe}")
    if connection.dry_run:
        for request in (create, *analyze, delete):
            connection.plan(request)
        return []
    if on_event is not None:
        on_event(IndexEvent("step", f"creating the empty probe index {probe}"))
    try:
        connection.send(create)
    except SearchRequestError as error:
        raise component_error(connection, error, mapping) from error
    try:
        return [
            AnalyzerCheck(analyzer=name, text=text, tokens=_tokens(connection.send(request)), expected=expected)
            for (name, text, expected), request in zip(samples, analyze, strict=True)
        ]
    except SearchRequestError as error:
        raise component_error(connection, error, mapping) from error
    finally:
        connection.send(delete)


def _live_checks(connection: SearchConnection, mapping: MappingFile, alias: str) -> list[AnalyzerCheck]:
    samples = analyzer_samples(mapping)
    try:
        return [
            AnalyzerCheck(analyzer=name, text=text, tokens=_tokens(connection.send(request)), expected=expected)
            for (name, text, expected), request in zip(samples, _analyze_requests(alias, samples), strict=True)
        ]
    except SearchRequestError as error:
        raise component_error(connection, error, mapping) from error


def _analyze_requests(index: str, samples: list[tuple[str, str, list[str] | None]]) -> list[Request]:
    """``_analyze`` is a POST that reads: it is marked so, and a dry run sends it."""
    return [
        Request("POST", f"/{index}/_analyze", body={"analyzer": name, "text": text}, write=False)
        for name, text, _ in samples
    ]


def _tokens(answer: Any) -> list[str]:
    return [str(token.get("token")) for token in (answer or {}).get("tokens", [])]
