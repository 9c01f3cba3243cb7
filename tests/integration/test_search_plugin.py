"""ticketctl's Elasticsearch analysis plugin (tests/search-plugin) behaves like the module it stands in for.

The Elasticsearch test server is the integ-test-zip plus that plugin; OpenSearch
3.6.0 loads analysis-common, whose ``asciifolding`` and ``word_delimiter_graph``
wrap the same Lucene classes. Each case sends one ``_analyze`` request to both
servers and compares every token attribute they report: text, offsets, type,
position and position length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.servers import SearchScratch, SearchServer

PLUGIN = "ticketctl-analysis"

ACCENTED_AND_NON_LATIN = [
    "São Paulo",
    "Björk Live",
    "ÆØÅ æøå Ærøskøbing",
    "Crème brûlée à la française, façade naïve coöperate",
    "Straße Œuvre Ĳssel",
    "İstanbul Şişli Iğdır",
    "Łódź Kraków Gdańsk Ostrava Žižkov",
    "Ñandú pingüino",
    "Đà Nẵng Hà Nội",
    "Þórshöfn Ðe Ørsted Ångström",
    "ﬁnancial ﬂow ǅemal",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "①②③ ⅻ ½ ²³",
    "“quoted” ‘text’ — «guillemets» ‹x›",
    "Ελληνικά Αθήνα",
    "Москва Санкт-Петербург Ёлка",
    "東京ドーム 서울 콘서트",
    "עברית العربية हिन्दी ไทย",
    "😀 emoji café",
]

ASCIIFOLDING = [
    ["asciifolding"],
    ["lowercase", "asciifolding"],
    ["lowercase", {"type": "asciifolding", "preserve_original": True}],
    [{"type": "asciifolding", "preserve_original": "true"}],
    [{"type": "asciifolding", "preserve_original": False}],
]

DELIMITED = ["PowerShot500-42 SD500 O'Neil's j2se", "Wi-Fi wi_fi 3.14 1,000 $100 e-mail", "São-Paulo ÆØÅ-Björk"]

WORD_DELIMITER_GRAPH: list[dict[str, Any]] = [
    {},
    {"catenate_all": True, "preserve_original": True},
    {"catenate_words": "true", "catenate_numbers": "true", "generate_number_parts": False},
    {"split_on_case_change": False, "split_on_numerics": False, "stem_english_possessive": "false"},
    {"generate_word_parts": False, "adjust_offsets": False, "catenate_all": True},
    {"protected_words": ["PowerShot500-42", "j2se"]},
    {"type_table": ["$ => DIGIT", ", => DIGIT", ". => DIGIT", "\\u002D => ALPHA", "_ => ALPHANUM"]},
]


def tokens(server: SearchServer, body: dict[str, Any]) -> list[tuple[Any, ...]]:
    answer = server.ok("POST", "/_analyze", body)
    return [
        (t["token"], t["start_offset"], t["end_offset"], t["type"], t["position"], t.get("positionLength", 1))
        for t in answer["tokens"]
    ]


def test_elasticsearch_loads_the_plugin_and_still_lacks_the_module(elasticsearch_server: SearchServer) -> None:
    listed = elasticsearch_server.ok("GET", "/_cat/plugins?format=json&h=component,version")
    assert listed == [{"component": PLUGIN, "version": "1.0.0"}]
    nodes = elasticsearch_server.ok("GET", "/_nodes/plugins?filter_path=nodes.*.modules.name")
    (node,) = nodes["nodes"].values()
    assert {"analysis-common", "reindex"}.isdisjoint(module["name"] for module in node["modules"])
    body = {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"], "text": "São Paulo Björk ÆØÅ"}
    assert [token[0] for token in tokens(elasticsearch_server, body)] == ["sao", "paulo", "bjork", "aeoa"]


@pytest.mark.parametrize("filters", ASCIIFOLDING, ids=lambda f: "+".join(map(str, f)))
def test_asciifolding_gives_the_tokens_of_analysis_common(
    elasticsearch_server: SearchServer, opensearch_server: SearchServer, filters: list[Any]
) -> None:
    for text in ACCENTED_AND_NON_LATIN:
        body = {"tokenizer": "standard", "filter": filters, "text": text}
        expected = tokens(opensearch_server, body)
        assert tokens(elasticsearch_server, body) == expected, text
    preserved = {"tokenizer": "standard", "filter": filters, "text": "São"}
    keeps_original = any(isinstance(f, dict) and f["preserve_original"] in (True, "true") for f in filters)
    assert len(tokens(elasticsearch_server, preserved)) == (2 if keeps_original else 1)


@pytest.mark.parametrize("options", WORD_DELIMITER_GRAPH, ids=lambda o: ",".join(o) or "defaults")
def test_word_delimiter_graph_gives_the_tokens_of_analysis_common(
    elasticsearch_server: SearchServer, opensearch_server: SearchServer, options: dict[str, Any]
) -> None:
    for text in [*DELIMITED, *ACCENTED_AND_NON_LATIN[:4]]:
        body = {"tokenizer": "standard", "filter": [{"type": "word_delimiter_graph", **options}, "lowercase"]}
        body["text"] = text
        expected = tokens(opensearch_server, body)
        assert tokens(elasticsearch_server, body) == expected, text


@pytest.mark.parametrize(
    ("component", "reason"),
    [
        ({"type": "asciifolding", "preserve_original": "yes"}, "Failed to parse value [yes] as only [true] or [false]"),
        ({"type": "word_delimiter_graph", "catenate_all": "1"}, "Failed to parse value [1] as only [true] or [false]"),
        ({"type": "word_delimiter_graph", "type_table": ["ab => DIGIT"]}, "Line [1]: Invalid mapping rule: [ab =>"),
        ({"type": "word_delimiter_graph", "type_table": ["a => VOWEL"]}, "Invalid mapping rule: [a => VOWEL]. Illegal"),
    ],
)
def test_a_bad_option_is_refused_as_analysis_common_refuses_it(
    elasticsearch_server: SearchServer, opensearch_server: SearchServer, component: dict[str, Any], reason: str
) -> None:
    body = {"tokenizer": "standard", "filter": [component], "text": "x"}
    for server in (elasticsearch_server, opensearch_server):
        answer = server.request("POST", "/_analyze", body)
        assert answer.status >= 400, server.name
        assert reason in str(answer.body), (server.name, answer.body)


def test_a_wildcard_query_is_folded_like_the_indexed_text(
    elasticsearch_scratch: SearchScratch, opensearch_scratch: SearchScratch
) -> None:
    """query_string normalises a wildcard term with each filter's normalize(): "SÃO*" must find "São Paulo"."""
    body = {
        "settings": {"analysis": {"analyzer": {"folded": {"type": "custom", "tokenizer": "standard",
                                                          "filter": ["lowercase", "asciifolding"]}}}},
        "mappings": {"properties": {"name": {"type": "text", "analyzer": "folded"}}},
    }  # fmt: skip
    for scratch in (elasticsearch_scratch, opensearch_scratch):
        server, index = scratch.server, scratch.index("events")
        server.ok("PUT", f"/{index}", body)
        server.ok("PUT", f"/{index}/_doc/1?refresh=true", {"name": "São Paulo"})
        query = {"query": {"query_string": {"query": "SÃO*", "default_field": "name"}}}
        assert server.ok("POST", f"/{index}/_search", query)["hits"]["total"]["value"] == 1, server.name


def test_the_one_known_difference_a_keyword_normalizer_refuses_the_plugin_filter(
    elasticsearch_scratch: SearchScratch, opensearch_scratch: SearchScratch
) -> None:
    """Elasticsearch accepts only filters of its internal "normalizing" kind in a keyword normalizer, and its
    stable plugin API cannot declare one: ticketctl's mappings use no normalizer (docs/test-services.md)."""
    body = {
        "settings": {
            "analysis": {"normalizer": {"folded": {"type": "custom", "filter": ["lowercase", "asciifolding"]}}}
        },
        "mappings": {"properties": {"city": {"type": "keyword", "normalizer": "folded"}}},
    }
    refused = elasticsearch_scratch.server.request("PUT", f"/{elasticsearch_scratch.index('cities')}", body)
    assert (refused.status, refused.body["error"]["reason"]) == (
        400,
        "Custom normalizer [folded] may not use filter [asciifolding]",
    )
    opensearch_scratch.server.ok("PUT", f"/{opensearch_scratch.index('cities')}", body)
