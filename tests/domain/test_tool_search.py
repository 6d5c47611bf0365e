"""Ranking tools for a query (domain/tool_search.py) and the index cache of the endpoint."""

from __future__ import annotations

from typing import Any

from mcp_gateway.api.downstream.search_tools import IndexCache, search_docs
from mcp_gateway.domain.tool_search import SearchDoc, ToolIndex, tokens


def _tool(name: str, description: str, *params: str) -> dict[str, Any]:
    properties = {p: {"type": "string"} for p in params}
    return {"name": name, "description": description, "inputSchema": {"properties": properties}}


CATALOGUE = [
    _tool("fs__read_text_file", "Read the complete contents of a file as text.", "path"),
    _tool("fs__write_file", "Create a new file or overwrite an existing one.", "path", "content"),
    _tool("fs__list_directory", "Get a detailed listing of all files and directories.", "path"),
    _tool("gh__createIssue", "Create a new issue in a GitHub repository.", "owner", "repo"),
    _tool("gh__merge_pull_request", "Merge a pull request.", "owner", "repo", "pullNumber"),
    _tool("slack__slack_post_message", "Post a new message to a Slack channel.", "channel_id"),
    _tool("time__get_current_time", "Get current time in a specific timezone.", "timezone"),
    _tool("maps__maps_geocode", "Convert an address into geographic coordinates.", "address"),
]


def _index() -> ToolIndex:
    return ToolIndex.build(search_docs(CATALOGUE, aggregated=True))


def _top(query: str, limit: int = 3) -> list[str]:
    return [hit.name for hit in _index().search(query, limit)]


def test_tokens_split_snake_kebab_camel_and_acronyms_and_fold_plurals() -> None:
    assert tokens("getFileInfo") == ["fil", "info"]  # "get" is a stop word
    assert tokens("read_multiple-files") == tokens("read multiple file")
    assert tokens("HTTPServer parseJSONBody") == ["http", "server", "pars", "json", "body"]
    assert tokens("queries created creating") == ["query", "creat", "creat"]


def test_search_finds_the_obvious_tool_first() -> None:
    assert _top("post a message in a slack channel")[0] == "slack__slack_post_message"
    assert _top("create a github issue")[0] == "gh__createIssue"
    assert _top("what time is it in Tokyo timezone")[0] == "time__get_current_time"
    assert _top("coordinates of an address")[0] == "maps__maps_geocode"


def test_search_matches_parameter_names_and_synonyms() -> None:
    assert _top("pullNumber")[0] == "gh__merge_pull_request"
    assert _top("remove a file")[0:1] != []  # "remove" has synonyms, "file" matches itself
    assert _top("save content to disk")[0] == "fs__write_file"  # save ~ write, content param


def test_a_full_or_unique_short_tool_name_ranks_that_tool_first() -> None:
    assert _top("fs__list_directory")[0] == "fs__list_directory"
    assert _top("maps_geocode")[0] == "maps__maps_geocode"


def test_search_returns_nothing_without_a_shared_word_and_honours_the_limit() -> None:
    assert _top("xylophone quartet") == []
    assert _top("") == []
    assert len(_top("file", limit=2)) == 2
    assert _top("file", limit=0) == []


def test_an_empty_catalogue_searches_to_nothing() -> None:
    assert ToolIndex.build([]).search("anything") == []
    assert ToolIndex.build([SearchDoc("a", "a")]).search("a")[0].name == "a"


def test_the_index_cache_reuses_an_index_until_the_catalogue_changes() -> None:
    cache = IndexCache(size=2)
    first = cache.index([dict(t) for t in CATALOGUE], aggregated=True)
    assert cache.index([dict(t) for t in CATALOGUE], aggregated=True) is first
    assert cache.builds == 1
    # A parameter now hidden (a secret was set): a different catalogue, a new index.
    changed = [dict(t) for t in CATALOGUE]
    changed[1] = _tool("fs__write_file", "Create a new file or overwrite an existing one.", "path")
    assert cache.index(changed, aggregated=True) is not first
    grown = [*CATALOGUE, _tool("new__tool", "A tool added later.")]
    assert cache.index(grown, aggregated=True).search("added later")[0].name == "new__tool"
    assert cache.builds == 3


def test_a_tool_with_a_malformed_schema_is_still_indexed_by_name_and_description() -> None:
    odd = [
        {"name": "x__odd", "description": "An odd tool.", "inputSchema": {"properties": [1]}},
        {"name": "x__bare", "description": "No schema at all."},
    ]
    index = IndexCache().index([*CATALOGUE, *odd], aggregated=True)
    assert index.search("odd tool")[0].name == "x__odd"
    assert index.search("bare schema")[0].name == "x__bare"
