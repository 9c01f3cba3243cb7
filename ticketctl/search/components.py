"""Which server module provides an analysis component or an API, and how to read its absence.

Minimal distributions leave modules out: Elasticsearch's integ-test-zip has no
``analysis-common`` (so no ``asciifolding``) and no ``reindex``. The server's
error names only the component ("failed to find global filter under name
[asciifolding]"); :func:`missing_component` parses that and adds the module,
so the user reads one line that says what to install.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ANALYSIS_COMMON = "analysis-common"
REINDEX = "reindex"

# Components of the analysis-common module (Elasticsearch and OpenSearch alike).
ANALYSIS_COMMON_FILTERS = {
    "apostrophe", "arabic_normalization", "arabic_stem", "asciifolding", "bengali_normalization", "brazilian_stem",
    "cjk_bigram", "cjk_width", "classic", "common_grams", "condition", "czech_stem", "decimal_digit",
    "delimited_payload", "dictionary_decompounder", "dutch_stem", "edge_ngram", "elision", "fingerprint",
    "flatten_graph", "french_stem", "german_normalization", "german_stem", "hindi_normalization",
    "hyphenation_decompounder", "indic_normalization", "keep", "keep_types", "keyword_marker", "kstem", "length",
    "limit", "min_hash", "multiplexer", "ngram", "pattern_capture", "pattern_replace",
    "persian_normalization", "porter_stem", "predicate_token_filter", "remove_duplicates", "reverse",
    "russian_stem", "scandinavian_folding", "scandinavian_normalization", "serbian_normalization", "snowball",
    "sorani_normalization", "stemmer", "stemmer_override", "synonym", "synonym_graph", "trim", "truncate", "unique",
    "uppercase", "word_delimiter", "word_delimiter_graph",
}  # fmt: skip
ANALYSIS_COMMON_TOKENIZERS = {
    "char_group", "classic", "edge_ngram", "keyword", "letter", "lowercase", "ngram", "path_hierarchy", "pattern",
    "simple_pattern", "simple_pattern_split", "thai", "uax_url_email", "whitespace",
}  # fmt: skip
ANALYSIS_COMMON_CHAR_FILTERS = {"html_strip", "mapping", "pattern_replace"}

_KIND_WORDS = {
    "filter": "token filter",
    "token filter": "token filter",
    "token_filter": "token filter",
    "tokenizer": "tokenizer",
    "char_filter": "char filter",
    "char filter": "char filter",
    "analyzer": "analyzer",
}
_MISSING_PATTERNS = (
    # _analyze: "failed to find global filter under name [asciifolding]" (wording varies by version)
    re.compile(r"failed to find (?:global )?(token filter|filter|tokenizer|char_filter|char filter|analyzer)"
               r"(?: under name| under)? \[([^\]]+)\]", re.IGNORECASE),
    # index creation: "Custom Analyzer [x] failed to find filter under name [asciifolding]"
    re.compile(r"failed to find (filter|tokenizer|char_filter) under name \[([^\]]+)\]", re.IGNORECASE),
    # "Unknown filter type [asciifolding] for [x]"
    re.compile(r"Unknown (filter|tokenizer|char_filter|analyzer) type \[([^\]]+)\]", re.IGNORECASE),
)  # fmt: skip
# Without the reindex module, "/_reindex" is no route of its own: ES answers "no handler found" or, since the
# path matches "/{index}", "Incorrect HTTP method for uri [/_reindex] and method [POST]".
_NO_HANDLER = re.compile(r"(no handler found|Incorrect HTTP method) for uri \[/?_reindex", re.IGNORECASE)


@dataclass(frozen=True)
class MissingComponent:
    """A component the server lacks: what kind, its name, and the module that provides it."""

    kind: str
    name: str
    module: str | None

    def describe(self) -> str:
        if self.module:
            return f"lacks the {self.kind} '{self.name}' of the {self.module} module"
        return f"lacks the {self.kind} '{self.name}' (not built in; provided by a module or plugin it does not load)"

    def hint(self) -> str:
        if self.module == ANALYSIS_COMMON:
            return (
                "use a full distribution (the official Docker image ships analysis-common) or install the "
                "analysis-common module; minimal builds such as Elasticsearch's integ-test-zip leave it out"
            )
        if self.module:
            return f"install or enable the {self.module} module on the server"
        return "install the plugin that provides it, or change the analyzer in the mapping file"


def module_of(kind: str, name: str) -> str | None:
    """The module that provides an analysis component, when ticketctl knows it."""
    if kind == "token filter" and name in ANALYSIS_COMMON_FILTERS:
        return ANALYSIS_COMMON
    if kind == "tokenizer" and name in ANALYSIS_COMMON_TOKENIZERS:
        return ANALYSIS_COMMON
    if kind == "char filter" and name in ANALYSIS_COMMON_CHAR_FILTERS:
        return ANALYSIS_COMMON
    return None


def missing_component(reason: str | None) -> MissingComponent | None:
    """Parse a server error's reason into the missing analysis component, if that is what it says."""
    if not reason:
        return None
    for pattern in _MISSING_PATTERNS:
        match = pattern.search(reason)
        if match:
            kind = _KIND_WORDS.get(match.group(1).lower(), match.group(1).lower())
            name = match.group(2)
            return MissingComponent(kind=kind, name=name, module=module_of(kind, name))
    return None


def missing_reindex(reason: str | None) -> MissingComponent | None:
    """Recognise the error of a server without the reindex module ("no handler found for uri [/_reindex]")."""
    if reason and _NO_HANDLER.search(reason):
        return MissingComponent(kind="API", name="_reindex", module=REINDEX)
    return None


def error_reasons(body: Any) -> Iterable[str]:
    """Every ``reason`` string in an error body (root causes, caused_by chains)."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "reason" and isinstance(value, str):
                yield value
            else:
                yield from error_reasons(value)
    elif isinstance(body, list):
        for item in body:
            yield from error_reasons(item)


def find_missing_component(body: Any, reason: str | None = None) -> MissingComponent | None:
    """The first missing component named anywhere in an error body (or the given reason)."""
    for text in (reason, *error_reasons(body)):
        found = missing_component(text) or missing_reindex(text)
        if found:
            return found
    return None


def loaded_modules(nodes_plugins: Any) -> set[str]:
    """Module and plugin names from ``GET _nodes/plugins`` (every node must have them)."""
    nodes = (nodes_plugins or {}).get("nodes") or {}
    per_node: list[set[str]] = []
    for node in nodes.values():
        names = {item.get("name", "") for key in ("modules", "plugins") for item in node.get(key) or []}
        per_node.append({name for name in names if name})
    return set.intersection(*per_node) if per_node else set()
