"""The aggregated endpoint's resource URI rule: reversible, unambiguous, template-safe."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcp_gateway.domain.resource_uris import gateway_uri, split_uri
from mcp_gateway.domain.tool_names import server_part


@given(st.text(min_size=1, max_size=64), st.text(max_size=200))
def test_a_gateway_uri_splits_back_into_its_server_part_and_the_exact_original(
    server: str, uri: str
) -> None:
    assert split_uri(gateway_uri(server, uri)) == (server_part(server), uri)


def test_an_expanded_rewritten_template_is_the_prefix_plus_the_original_expansion() -> None:
    template = gateway_uri("fx", "file:///{path}")
    assert template == "mcpgw:fx/file:///{path}"
    expanded = template.replace("{path}", "a%2Fb")  # what a client's RFC 6570 expansion gives
    assert split_uri(expanded) == ("fx", "file:///a%2Fb")


def test_names_that_are_not_gateway_uris_do_not_split() -> None:
    for uri in ("file:///x", "mcpgw:", "mcpgw:/x", "mcpgw:fx", "MCPGW:fx/x"):
        assert split_uri(uri) is None


def test_servers_whose_names_differ_only_in_case_or_punctuation_get_distinct_prefixes() -> None:
    uris = {gateway_uri(name, "x://y") for name in ("fx", "Fx", "f.x", "f x", "f-x")}
    assert len(uris) == 5
