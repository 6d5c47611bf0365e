"""The aggregated endpoint's tool names: valid, deterministic, collision-free, routable."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mcp_gateway.domain.tool_names import is_hashed, namespaced, server_part, split

_VALID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

servers = st.text(min_size=1, max_size=64).filter(lambda s: "/" not in s and s not in (".", ".."))
tools = st.text(min_size=1, max_size=128)


def test_plain_names_are_kept_as_server_double_underscore_tool() -> None:
    assert namespaced("github", "create_issue") == "github__create_issue"
    assert namespaced("my-server_2", "a-b") == "my-server_2__a-b"


def test_names_that_do_not_fit_are_shortened_with_a_hash_the_same_way_every_time() -> None:
    spaced = namespaced("My Server.v2", "search")
    assert re.fullmatch(r"My-Server-v2-[0-9a-f]{8}__search", spaced)
    assert namespaced("My Server.v2", "search") == spaced
    long_tool = "t" * 80
    name = namespaced("fx", long_tool)
    assert len(name) == 64 and name.startswith("fx__ttt") and is_hashed(name)
    dotted = namespaced("fx", "files.read")  # a dot is not allowed: hashed
    assert re.fullmatch(r"fx__files-read-[0-9a-f]{8}", dotted)


def test_a_server_name_with_double_underscore_cannot_collide_with_a_tool_name() -> None:
    assert namespaced("a__b", "c") != namespaced("a", "b__c")
    assert "__" not in server_part("a__b")


def test_identity_names_never_look_hashed() -> None:
    looks_hashed = "x-0123abcd"
    assert server_part(looks_hashed) != looks_hashed
    assert namespaced("fx", looks_hashed) != f"fx__{looks_hashed}"


@given(servers, tools)
def test_every_name_is_valid_and_splits_back_to_its_server_part(server: str, tool: str) -> None:
    name = namespaced(server, tool)
    assert _VALID.fullmatch(name), name
    parts = split(name)
    assert parts is not None and parts[0] == server_part(server)
    if not is_hashed(parts[1]):
        assert parts[1] == tool  # routed without a listing


@given(st.lists(st.tuples(servers, tools), min_size=2, max_size=30, unique=True))
def test_distinct_server_tool_pairs_get_distinct_names(pairs: list[tuple[str, str]]) -> None:
    assert len({namespaced(s, t) for s, t in pairs}) == len(pairs)
