"""Ranking tools for a query (domain/tool_search.py): one index, and segments searched as one."""

from __future__ import annotations

from typing import Any

from mcp_gateway.domain.tool_search import (
    SYNONYM_POSTINGS,
    IndexSegment,
    SearchDoc,
    ToolIndex,
    tokens,
)
from mcp_gateway.services.catalogue_view import search_doc


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


def _docs(tools: list[dict[str, Any]]) -> list[SearchDoc]:
    return [search_doc(t, *t["name"].split("__", 1)) for t in tools]


def _index() -> ToolIndex:
    return ToolIndex.build(_docs(CATALOGUE))


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


def _segment(tools: list[dict[str, Any]]) -> IndexSegment:
    return IndexSegment.build(_docs(tools))


def test_segments_searched_as_one_rank_with_the_whole_catalogues_word_weights() -> None:
    by_server: dict[str, list[dict[str, Any]]] = {}
    for tool in CATALOGUE:
        by_server.setdefault(tool["name"].split("__")[0], []).append(tool)
    segments = [_segment(tools) for tools in by_server.values()]
    index = ToolIndex(segments)
    assert len(index) == len(CATALOGUE)
    assert index.search("post a message in a slack channel")[0].name == (
        "slack__slack_post_message"
    )
    assert index.search("create a github issue")[0].name == "gh__createIssue"
    assert index.search("fs__list_directory")[0].name == "fs__list_directory"
    assert index.search("maps_geocode")[0].name == "maps__maps_geocode"
    # "file" is in every fs tool: across segments its weight is the catalogue's, so the rarer
    # "merge" decides between an fs tool and the pull request tool.
    assert index.search("merge file")[0].name == "gh__merge_pull_request"


def test_one_changed_segment_is_all_a_new_index_builds() -> None:
    fs = _segment(CATALOGUE[:3])
    gh = _segment(CATALOGUE[3:5])
    before = ToolIndex([fs, gh])
    assert before.search("zebra") == []
    grown = _segment([*CATALOGUE[3:5], _tool("gh__added", "A zebra tool added later.")])
    after = ToolIndex([fs, grown])
    assert after.segments[0] is fs  # reused as it was: nothing re-indexed
    assert after.search("zebra")[0].name == "gh__added"
    assert after.search("read a file as text")[0].name == "fs__read_text_file"


def test_a_tool_part_shared_across_segments_is_not_a_unique_short_name() -> None:
    one = _segment([_tool("a__search", "Search the web.")])
    two = _segment([_tool("b__search", "Search the files.")])
    assert ToolIndex([one]).search("search")[0].score == float("inf")
    both = ToolIndex([one, two]).search("search")
    assert all(hit.score != float("inf") for hit in both)
    assert ToolIndex([one, two]).search("b__search")[0].name == "b__search"


def test_a_synonym_adds_to_its_best_documents_across_segments_only() -> None:
    many = [_tool(f"s{n}__remove_item_{n}", f"Remove item {n}.") for n in range(SYNONYM_POSTINGS)]
    segments = [_segment(many[: len(many) // 2]), _segment(many[len(many) // 2 :])]
    extra = _segment([_tool("t__remove_thing", "Remove a thing.")])
    index = ToolIndex([*segments, extra])
    hits = index.search("delete", limit=SYNONYM_POSTINGS + 5)
    assert len(hits) == SYNONYM_POSTINGS  # "delete" ~ "remove": its 500 best documents


def test_a_tool_with_a_malformed_schema_is_still_indexed_by_name_and_description() -> None:
    odd = [
        {"name": "x__odd", "description": "An odd tool.", "inputSchema": {"properties": [1]}},
        {"name": "x__bare", "description": "No schema at all."},
    ]
    index = ToolIndex.build(_docs([*CATALOGUE, *odd]))
    assert index.search("odd tool")[0].name == "x__odd"
    assert index.search("bare schema")[0].name == "x__bare"
