"""Offline checks of a mapping file: field types, analyzer references, formats, ``_meta``.

They need no server and catch what a search team typo looks like (``"type":
"strng"``, an analyzer defined as ``event_name`` but used as ``event_names``)
with the ``file:line`` of the mistake. The server check in
:mod:`ticketctl.search.validation` then proves the mapping is accepted and that
the analyzers produce the tokens the file promises.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from ticketctl.search.components import ANALYSIS_COMMON_CHAR_FILTERS as COMMON_CHAR_FILTERS
from ticketctl.search.components import ANALYSIS_COMMON_FILTERS as COMMON_FILTERS
from ticketctl.search.components import ANALYSIS_COMMON_TOKENIZERS as COMMON_TOKENIZERS
from ticketctl.search.results import Issue
from ticketctl.search.spec import MappingFile

FIELD_TYPES = frozenset(
    {
        "text", "keyword", "constant_keyword", "wildcard", "match_only_text", "long", "integer", "short", "byte",
        "double", "float", "half_float", "scaled_float", "unsigned_long", "date", "date_nanos", "boolean", "binary",
        "object", "nested", "flattened", "flat_object", "ip", "geo_point", "geo_shape", "point", "shape", "completion",
        "search_as_you_type", "token_count", "alias", "join", "percolator", "integer_range", "float_range",
        "long_range", "double_range", "date_range", "ip_range", "version", "histogram", "dense_vector",
        "sparse_vector", "knn_vector", "rank_feature", "rank_features", "semantic_text", "derived", "star_tree",
    }
)  # fmt: skip
BUILTIN_ANALYZERS = frozenset(
    {
        "standard", "simple", "whitespace", "stop", "keyword", "pattern", "fingerprint", "default", "arabic",
        "armenian", "basque", "bengali", "brazilian", "bulgarian", "catalan", "cjk", "czech", "danish", "dutch",
        "english", "estonian", "finnish", "french", "galician", "german", "greek", "hindi", "hungarian",
        "indonesian", "irish", "italian", "latvian", "lithuanian", "norwegian", "persian", "portuguese", "romanian",
        "russian", "serbian", "sorani", "spanish", "swedish", "turkish", "thai", "snowball",
    }
)  # fmt: skip
CORE_FILTERS = frozenset({"stop", "shingle", "standard", "lowercase"})
CORE_TOKENIZERS = frozenset({"standard"})
BUILTIN_FILTERS = COMMON_FILTERS | CORE_FILTERS
BUILTIN_TOKENIZERS = COMMON_TOKENIZERS | CORE_TOKENIZERS
BUILTIN_CHAR_FILTERS = COMMON_CHAR_FILTERS
ANALYZER_PARAMS = ("analyzer", "search_analyzer", "search_quote_analyzer")
NAMED_DATE_FORMATS = frozenset(
    {
        "epoch_millis", "epoch_second", "date_optional_time", "strict_date_optional_time",
        "strict_date_optional_time_nanos", "basic_date", "basic_date_time", "basic_date_time_no_millis",
        "date", "strict_date", "date_time", "strict_date_time", "date_time_no_millis", "strict_date_time_no_millis",
        "date_hour_minute_second", "strict_date_hour_minute_second", "date_hour_minute_second_millis",
        "strict_date_hour_minute_second_millis", "year_month_day", "strict_year_month_day", "year", "strict_year",
        "iso8601",
    }
)  # fmt: skip


def check_mapping(mapping_file: MappingFile) -> list[Issue]:
    """Every offline finding, errors and warnings, in file order."""
    issues: list[Issue] = []
    analysis = _analysis(mapping_file)
    issues += _check_analysis(mapping_file, analysis)
    defined_analyzers = set((analysis.get("analyzer") or {}).keys())
    issues += _check_properties(
        mapping_file, mapping_file.mappings.get("properties") or {}, ("mappings",), defined_analyzers
    )
    issues += _check_meta(mapping_file, defined_analyzers)
    return sorted(issues, key=lambda issue: _line_number(issue.where))


def _line_number(where: str) -> int:
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _analysis(mapping_file: MappingFile) -> dict[str, Any]:
    settings = mapping_file.settings
    index = settings.get("index") if isinstance(settings.get("index"), Mapping) else {}
    analysis = settings.get("analysis", index.get("analysis") if index else None)
    return analysis if isinstance(analysis, dict) else {}


def _analysis_path(mapping_file: MappingFile) -> tuple[str, ...]:
    return ("settings", "analysis") if "analysis" in mapping_file.settings else ("settings", "index", "analysis")


def _suggest(name: str, known: set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_analysis(mapping_file: MappingFile, analysis: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    base = _analysis_path(mapping_file)
    defined_filters = set((analysis.get("filter") or {}).keys())
    defined_tokenizers = set((analysis.get("tokenizer") or {}).keys())
    defined_char_filters = set((analysis.get("char_filter") or {}).keys())
    for name, analyzer in (analysis.get("analyzer") or {}).items():
        where = (*base, "analyzer", name)
        if not isinstance(analyzer, Mapping):
            issues.append(Issue("error", mapping_file.where(*where), f"analyzer '{name}' must be an object"))
            continue
        if analyzer.get("type", "custom") != "custom":
            continue
        tokenizer = analyzer.get("tokenizer")
        if not isinstance(tokenizer, str):
            issues.append(Issue("error", mapping_file.where(*where), f"custom analyzer '{name}' needs a 'tokenizer'"))
        elif tokenizer not in BUILTIN_TOKENIZERS | defined_tokenizers:
            issues.append(
                Issue(
                    "warning",
                    mapping_file.where(*where, "tokenizer"),
                    f"analyzer '{name}': tokenizer '{tokenizer}' is neither defined here nor a built-in one "
                    f"ticketctl knows{_suggest(tokenizer, BUILTIN_TOKENIZERS | defined_tokenizers)}",
                )
            )
        for key, defined, builtin, word in (
            ("filter", defined_filters, BUILTIN_FILTERS, "token filter"),
            ("char_filter", defined_char_filters, BUILTIN_CHAR_FILTERS, "char filter"),
        ):
            items = analyzer.get(key, [])
            items = [items] if isinstance(items, str) else items
            if not isinstance(items, list):
                issues.append(
                    Issue("error", mapping_file.where(*where, key), f"analyzer '{name}': {key} must be a list")
                )
                continue
            for position, item in enumerate(items):
                if isinstance(item, str) and item not in defined | builtin:
                    issues.append(
                        Issue(
                            "warning",
                            mapping_file.where(*where, key, position),
                            f"analyzer '{name}': {word} '{item}' is neither defined here nor a built-in one "
                            f"ticketctl knows{_suggest(item, defined | builtin)}",
                        )
                    )
    return issues


def _check_properties(
    mapping_file: MappingFile, properties: Any, path: tuple[str | int, ...], analyzers: set[str]
) -> list[Issue]:
    issues: list[Issue] = []
    if not isinstance(properties, Mapping):
        return [Issue("error", mapping_file.where(*path), "'properties' must be an object")]
    for name, spec in properties.items():
        where = (*path, "properties", name)
        if not isinstance(spec, Mapping):
            issues.append(Issue("error", mapping_file.where(*where), f"field '{name}' must be an object"))
            continue
        issues += _check_field(mapping_file, name, spec, where, analyzers)
    return issues


def _check_field(
    mapping_file: MappingFile, name: str, spec: Mapping[str, Any], where: tuple[str | int, ...], analyzers: set[str]
) -> list[Issue]:
    issues: list[Issue] = []
    field_type = spec.get("type")
    if field_type is None and "properties" not in spec:
        issues.append(Issue("error", mapping_file.where(*where), f"field '{name}' has neither 'type' nor 'properties'"))
    elif field_type is not None and field_type not in FIELD_TYPES:
        issues.append(
            Issue(
                "error",
                mapping_file.where(*where, "type"),
                f"field '{name}': unknown type '{field_type}'{_suggest(str(field_type), FIELD_TYPES)}",
            )
        )
    for param in ANALYZER_PARAMS:
        analyzer = spec.get(param)
        if analyzer is None:
            continue
        if field_type not in (None, "text", "search_as_you_type", "match_only_text", "completion", "token_count"):
            issues.append(
                Issue(
                    "error", mapping_file.where(*where, param), f"field '{name}': type '{field_type}' takes no {param}"
                )
            )
        elif analyzer not in analyzers | BUILTIN_ANALYZERS:
            issues.append(
                Issue(
                    "error",
                    mapping_file.where(*where, param),
                    f"field '{name}': {param} '{analyzer}' is not defined in settings.analysis.analyzer"
                    f"{_suggest(str(analyzer), analyzers | BUILTIN_ANALYZERS)}",
                )
            )
    if "format" in spec:
        issues += _check_date_format(mapping_file, name, spec, where)
    if "properties" in spec:
        issues += _check_properties(mapping_file, spec["properties"], where, analyzers)
    if isinstance(spec.get("fields"), Mapping):
        for sub_name, sub_spec in spec["fields"].items():
            sub_where = (*where, "fields", sub_name)
            if isinstance(sub_spec, Mapping):
                issues += _check_field(mapping_file, f"{name}.{sub_name}", sub_spec, sub_where, analyzers)
    return issues


def _check_date_format(
    mapping_file: MappingFile, name: str, spec: Mapping[str, Any], where: tuple[str | int, ...]
) -> list[Issue]:
    if spec.get("type") not in ("date", "date_nanos", "date_range"):
        return [Issue("error", mapping_file.where(*where, "format"), f"field '{name}': 'format' applies to dates only")]
    text = spec["format"]
    if not isinstance(text, str) or not text:
        return [Issue("error", mapping_file.where(*where, "format"), f"field '{name}': 'format' must be a string")]
    issues = []
    for part in text.split("||"):
        if not part.strip():
            issues.append(
                Issue("error", mapping_file.where(*where, "format"), f"field '{name}': empty format between '||'")
            )
        elif part.islower() and "_" in part and part not in NAMED_DATE_FORMATS:
            issues.append(
                Issue(
                    "warning",
                    mapping_file.where(*where, "format"),
                    f"field '{name}': '{part}' is not a named date format ticketctl knows"
                    f"{_suggest(part, NAMED_DATE_FORMATS)}",
                )
            )
    return issues


def _check_meta(mapping_file: MappingFile, analyzers: set[str]) -> list[Issue]:
    meta = mapping_file.mappings.get("_meta")
    if meta is None:
        return [Issue("warning", mapping_file.where("mappings"), "no _meta.schema_version: versions are unnamed")]
    if not isinstance(meta, Mapping):
        return [Issue("error", mapping_file.where("mappings", "_meta"), "'_meta' must be an object")]
    issues: list[Issue] = []
    if "ticketctl" in meta:
        issues.append(
            Issue(
                "error", mapping_file.where("mappings", "_meta", "ticketctl"), "_meta.ticketctl is written by ticketctl"
            )
        )
    version = meta.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        issues.append(
            Issue(
                "error" if "schema_version" in meta else "warning",
                mapping_file.where("mappings", "_meta", "schema_version"),
                "_meta.schema_version should be a positive integer",
            )
        )
    examples = meta.get("analyzer_examples", {})
    if not isinstance(examples, Mapping):
        return [*issues, Issue("error", mapping_file.where("mappings", "_meta"), "analyzer_examples must be an object")]
    for analyzer, samples in examples.items():
        where = ("mappings", "_meta", "analyzer_examples", analyzer)
        if analyzer not in analyzers | BUILTIN_ANALYZERS:
            issues.append(
                Issue("error", mapping_file.where(*where), f"analyzer_examples: analyzer '{analyzer}' is not defined")
            )
        valid = isinstance(samples, Mapping) and all(
            isinstance(tokens, list) and all(isinstance(token, str) for token in tokens) for tokens in samples.values()
        )
        if not valid:
            issues.append(
                Issue(
                    "error",
                    mapping_file.where(*where),
                    f"analyzer_examples.{analyzer} must map each text to its list of tokens",
                )
            )
    return issues
