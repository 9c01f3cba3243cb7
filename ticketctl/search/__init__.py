"""The events index on Elasticsearch and OpenSearch: versioned behind an alias, never losing data.

The verbs that ``ticketctl index``, ``up`` and ``doctor`` call::

    from ticketctl.search import connect, create_index, index_status
    result = create_index(settings, secrets)          # IndexResult
    status = index_status(settings, secrets)          # StatusResult: in_sync / drift / missing

Names load lazily, so importing this package costs nothing until a verb runs
(the search clients are imported only when a connection is made).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "connect": "ticketctl.clients.search",
    "detect": "ticketctl.clients.search",
    "SearchConnection": "ticketctl.clients.search",
    "ServerInfo": "ticketctl.clients.search",
    "create_index": "ticketctl.search.create",
    "adopt": "ticketctl.search.create",
    "index_status": "ticketctl.search.migrate",
    "diff": "ticketctl.search.migrate",
    "migrate_index": "ticketctl.search.migrate",
    "rollback": "ticketctl.search.versions",
    "prune": "ticketctl.search.versions",
    "resolve_replicas": "ticketctl.search.session",
    "validate": "ticketctl.search.validation",
    "load_mapping": "ticketctl.search.spec",
    "IndexEvent": "ticketctl.search.results",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ticketctl.search' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
