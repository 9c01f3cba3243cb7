"""Search checks: cluster health, the alias points at an index whose spec matches the
mapping file, and the analyzer produces the tokens the file promises."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ticketctl.doctor.core import Check, CheckContext, Outcome

if TYPE_CHECKING:
    from ticketctl.clients.search import SearchConnection
    from ticketctl.config.settings import Settings


def _settings(context: CheckContext) -> Settings:
    search = dataclasses.replace(context.settings.search, timeout=context.timeout)
    return dataclasses.replace(context.settings, search=search)


def _connection(context: CheckContext) -> SearchConnection:
    from ticketctl.clients.search import connect

    return context.shared("search", lambda: connect(_settings(context), context.secrets))


def check_health(context: CheckContext) -> Outcome:
    from ticketctl.clients.search import unverified_tls_warning

    connection = _connection(context)
    health = connection.health()
    status = str(health.get("status", "?"))
    label = f"{connection.info.label} at {connection.info.url}"
    nodes = health.get("number_of_nodes", "?")
    if status == "green" and unverified_tls_warning(context.settings):
        return Outcome.warn(
            f"{label}: cluster {status}, {nodes} node(s), but its TLS certificate is not verified "
            "(search.verify_certs: false)",
            "set search.ca_certs to the cluster's CA bundle and search.verify_certs: true",
            status=status,
        )
    if status == "green":
        return Outcome.ok(f"{label}: cluster {status}, {nodes} node(s)", status=status)
    if status == "yellow":
        return Outcome.warn(
            f"{label}: cluster yellow ({health.get('unassigned_shards', '?')} unassigned shards)",
            "on a single node set replicas to 0 (search.replicas: auto), then 'ticketctl index migrate'",
            status=status,
        )
    return Outcome.fail(
        f"{label}: cluster {status} ({health.get('unassigned_shards', '?')} unassigned shards)",
        "look at GET _cluster/allocation/explain and the search container's log ('ticketctl status')",
        status=status,
    )


def check_index(context: CheckContext) -> Outcome:
    from ticketctl.search import index_status
    from ticketctl.search.changes import needs_reindex

    result = index_status(_settings(context), context.secrets, connection=_connection(context))
    alias = context.settings.search.index
    if result.state == "missing":
        return Outcome.fail(f"alias {alias} does not exist", "ticketctl index create")
    name = result.index.name if result.index else "?"
    if result.drift is not None and result.drift.drifted:
        how = "ticketctl index migrate" + (" --reindex" if needs_reindex(result.changes) else "")
        return Outcome.fail(
            f"alias {alias} → {name} was changed outside ticketctl: {result.drift.describe()}",
            f"{how} puts the spec of {result.mapping_file} back; or put the change into the mapping file "
            "('ticketctl index diff' shows both)",
            drift=result.drift.as_dict(),
        )
    if result.state == "drift":
        return Outcome.fail(
            f"alias {alias} → {name} differs from {result.mapping_file} ({len(result.changes)} change(s))",
            "ticketctl index diff, then ticketctl index migrate",
            changes=len(result.changes),
        )
    return Outcome.ok(f"alias {alias} → {name} matches {result.mapping_file} ({result.docs} docs)", docs=result.docs)


def check_analyzer(context: CheckContext) -> Outcome:
    from ticketctl.search import validate
    from ticketctl.search.state import read_state

    alias = context.settings.search.index
    if not read_state(_connection(context), alias).exists:
        return Outcome.skip(f"skipped: no index behind alias {alias} to analyze with (see search.index)")
    result = validate(_settings(context), context.secrets, connection=_connection(context), live_index=True)
    if result.ok:
        samples = ", ".join(f"{c.text!r} → {' '.join(c.tokens)}" for c in result.analyzer_checks[:1])
        return Outcome.ok(f"analyzers work: {samples}" if samples else "mapping accepted by the server")
    problem = (
        result.errors[0].message
        if result.errors
        else next(
            f"{c.analyzer}: {c.text!r} gave {c.tokens}, expected {c.expected}"
            for c in result.analyzer_checks
            if not c.ok
        )
    )
    return Outcome.fail(problem, "ticketctl index validate shows every finding")


CHECKS = [
    Check("search.health", "the search cluster answers and is green", check_health),
    Check(
        "search.index", "the alias points at an index matching the mapping file", check_index, needs=("search.health",)
    ),
    Check(
        "search.analyzer",
        "the live index's analyzer turns 'São Paulo' into sao, paulo",
        check_analyzer,
        needs=("search.health",),
    ),
]
