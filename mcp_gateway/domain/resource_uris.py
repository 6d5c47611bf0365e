"""Resource URIs on the aggregated MCP endpoint: ``mcpgw:<server part>/<original URI>``.

Two servers may both have ``file:///README.md``, so ``/mcp`` lists each resource under a URI
that names its server, and a ``resources/read`` of that URI goes to that server with the
original URI. The rule (docs/mcp-endpoint.md):

- the prefix is ``mcpgw:``, the server's part of its tool names
  (:func:`~mcp_gateway.domain.tool_names.server_part`: ``[A-Za-z0-9_-]`` only, the same on
  every restart and replica), and ``/``;
- the original URI follows verbatim: not encoded, so a resource template rewritten the same
  way expands to exactly the prefix plus what the original template expands to (an encoded
  original would not: a client's expansion of ``{path}`` is not encoded twice).

A URI splits at its first ``/`` after ``mcpgw:``: a server part never contains one, so the
split is unambiguous whatever the original holds (even another ``mcpgw:`` URI). The opaque
form (no ``//`` authority) keeps URL parsers from lower-casing the server part or resolving
``..`` segments in the original.
"""

from __future__ import annotations

from mcp_gateway.domain.tool_names import server_part

SCHEME = "mcpgw:"


def gateway_uri(server: str, uri: str) -> str:
    """The aggregated endpoint's URI (or URI template) for ``server``'s ``uri``."""
    return f"{SCHEME}{server_part(server)}/{uri}"


def split_uri(uri: str) -> tuple[str, str] | None:
    """``(server part, original URI)`` of a gateway URI, or None when ``uri`` is not one."""
    if not uri.startswith(SCHEME):
        return None
    part, sep, original = uri[len(SCHEME) :].partition("/")
    if not sep or not part:
        return None
    return part, original
