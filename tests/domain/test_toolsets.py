"""Toolset rules: names, entries, what a toolset allows."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.toolsets import (
    ALL_TOOLS,
    MAX_ENTRIES,
    Toolset,
    ToolsetEntry,
    validate_toolset,
    validate_toolset_name,
)
from mcp_gateway.errors import InvalidRequest


def test_a_toolset_allows_its_named_tools_and_every_tool_of_a_whole_server() -> None:
    toolset = Toolset(
        "triage", tools=(ToolsetEntry("github", "create_issue"), ToolsetEntry("docs", ALL_TOOLS))
    )
    assert toolset.allows("github", "create_issue")
    assert not toolset.allows("github", "delete_repo")
    assert toolset.allows("docs", "anything")
    assert not toolset.allows("other", "create_issue")
    assert toolset.servers == {"github", "docs"}


@pytest.mark.parametrize("name", ["a", "triage", "Team_1.read-only", "x" * 64])
def test_url_safe_names_are_valid_toolset_names(name: str) -> None:
    assert validate_toolset_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "-x", "a/b", "a b", "x" * 65, "caf\u00e9", "a\n"])
def test_names_that_are_not_one_plain_url_segment_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid toolset name"):
        validate_toolset_name(name)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (ToolsetEntry("", "t"), r"tools\[1\]: invalid server name"),
        (ToolsetEntry("a/b", "t"), r"tools\[1\]: invalid server name"),
        (ToolsetEntry("fx", ""), r"tools\[1\]: invalid tool name: it must be a non-empty"),
        (ToolsetEntry("fx", "t" * 129), r"tools\[1\]: invalid tool name: at most 128"),
        (ToolsetEntry("fx", "a\x00b"), r"tools\[1\]: invalid tool name: .*control"),
        (ToolsetEntry("fx", "echo"), r"tools\[1\]: duplicate entry for server 'fx', tool 'echo'"),
    ],
)
def test_a_bad_entry_is_refused_naming_its_position_and_problem(
    entry: ToolsetEntry, problem: str
) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        validate_toolset(Toolset("t", tools=(ToolsetEntry("fx", "echo"), entry)))


def test_sizes_are_bounded() -> None:
    with pytest.raises(InvalidRequest, match="description: at most 1024"):
        validate_toolset(Toolset("t", description="d" * 1025))
    many = tuple(ToolsetEntry("fx", f"t{i}") for i in range(MAX_ENTRIES + 1))
    with pytest.raises(InvalidRequest, match="at most 1000 entries"):
        validate_toolset(Toolset("t", tools=many))
