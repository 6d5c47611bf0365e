"""Toolsets: named subsets of tools across servers, served at ``/mcp/toolsets/{name}``.

A toolset is a name, a description and a list of entries. Each entry names one server and
either one tool of it or ``"*"`` (every tool the server has, now or later). Entries name tools
as the servers do (not the ``<server>__<tool>`` names of ``/mcp``): those are derived, and a
server rename or a hashed tool part would otherwise break a stored toolset silently.

An entry may name a server or tool that does not exist (yet): it shows nothing until it does.
Pure rules, no I/O; :func:`validate_toolset` raises InvalidRequest naming the first problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.errors import InvalidRequest

ALL_TOOLS = "*"
"""An entry's ``tool`` that stands for every tool of its server."""

MAX_TOOLSET_NAME = 64
MAX_DESCRIPTION = 1024
MAX_ENTRIES = 1000
MAX_TOOL_NAME = 128  # MCP's tool-name guidance (SEP-986): 1-128 characters
# A URL path segment as it is: no percent-encoding needed, no '.'/'..' (starts alphanumeric).
TOOLSET_NAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_TOOLSET_NAME - 1}}}$"
_TOOLSET_NAME_RE = re.compile(TOOLSET_NAME_PATTERN)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class ToolsetEntry:
    server: str
    tool: str = ALL_TOOLS  # one tool name, or ALL_TOOLS

    def covers(self, server: str, tool: str) -> bool:
        return self.server == server and self.tool in (ALL_TOOLS, tool)


@dataclass(frozen=True, slots=True)
class Toolset:
    name: str
    description: str = ""
    tools: tuple[ToolsetEntry, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def servers(self) -> frozenset[str]:
        return frozenset(entry.server for entry in self.tools)

    def allows(self, server: str, tool: str) -> bool:
        """Whether tool ``tool`` of server ``server`` is in this toolset."""
        return any(entry.covers(server, tool) for entry in self.tools)


def validate_toolset_name(name: str) -> str:
    """Return ``name`` or raise InvalidRequest naming the rule it breaks."""
    if not isinstance(name, str) or not _TOOLSET_NAME_RE.fullmatch(name):
        raise InvalidRequest(
            "invalid toolset name: 1-64 characters of letters, digits, '_', '-' and '.', "
            "starting with a letter or digit"
        )
    return name


def validate_tool_name(tool: str) -> str:
    if not isinstance(tool, str) or not tool:
        raise InvalidRequest("invalid tool name: it must be a non-empty string")
    if len(tool) > MAX_TOOL_NAME:
        raise InvalidRequest(f"invalid tool name: at most {MAX_TOOL_NAME} characters")
    if _CONTROL_RE.search(tool):
        raise InvalidRequest("invalid tool name: it must not contain control characters")
    return tool


def validate_toolset(toolset: Toolset) -> Toolset:
    """Return ``toolset`` or raise InvalidRequest naming its first problem (the entry's
    position and what is wrong; never more of the input than a name)."""
    validate_toolset_name(toolset.name)
    if len(toolset.description) > MAX_DESCRIPTION:
        raise InvalidRequest(f"invalid description: at most {MAX_DESCRIPTION} characters")
    if len(toolset.tools) > MAX_ENTRIES:
        raise InvalidRequest(f"too many tools: a toolset has at most {MAX_ENTRIES} entries")
    seen: set[ToolsetEntry] = set()
    for i, entry in enumerate(toolset.tools):
        try:
            validate_server_name(entry.server)
            validate_tool_name(entry.tool)
        except InvalidRequest as exc:
            raise InvalidRequest(f"tools[{i}]: {exc.message}") from None
        if entry in seen:
            raise InvalidRequest(
                f"tools[{i}]: duplicate entry for server {entry.server!r}, tool {entry.tool!r}"
            )
        seen.add(entry)
    return toolset
