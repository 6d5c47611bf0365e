"""``mcp-gateway toolsets``: list, show, set and delete toolsets (``/admin/toolsets``).

A toolset is served at ``/mcp/toolsets/<name>`` (``mcp-gateway connect --toolset <name>``).
``set`` writes the whole toolset: the entries given replace the stored ones.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from mcp_gateway.cli.client import DEFAULT_URL, fail_usage, gateway
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption
from mcp_gateway.cli.output import print_fields, print_json, print_table, say

toolsets_app = typer.Typer(help="Manage toolsets (named subsets of tools).", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Toolset name.", show_default=False)]


def _path(name: str) -> str:
    return f"/admin/toolsets/{quote(name, safe='')}"


def parse_tool(spec: str) -> dict[str, str]:
    """``SERVER/TOOL`` -> an entry; split at the first ``/`` (server names have none, tool
    names may). ``SERVER/*`` is every tool of the server. Raises ValueError."""
    server, sep, tool = spec.partition("/")
    if not sep or not server or not tool:
        raise ValueError(f"--tool {spec!r}: expected SERVER/TOOL (or SERVER/* for all its tools)")
    return {"server": server, "tool": tool}


def _entry_text(entry: dict[str, Any]) -> str:
    return f"{entry.get('server')}/{entry.get('tool')}"


def _when(value: Any) -> str:
    """An ISO 8601 time to the minute (``2026-12-06 18:30``)."""
    return value[:16].replace("T", " ") if isinstance(value, str) and value else "-"


def _show(toolset: dict[str, Any]) -> None:
    tools = [e for e in toolset.get("tools") or [] if isinstance(e, dict)]
    print_fields(
        [
            ("name", toolset.get("name")),
            ("description", toolset.get("description") or "-"),
            ("endpoint", toolset.get("endpoint")),
            ("updated", _when(toolset.get("updatedAt"))),
            *(("tool", f"{_entry_text(e)}  ({e.get('mcpName') or 'all tools'})") for e in tools),
        ]
    )


@toolsets_app.command("list")
def list_toolsets(
    as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """List toolsets: name, number of entries, description.

    Example: mcp-gateway toolsets list --json
    """
    with gateway(url, api_key) as gw:
        toolsets = [t for t in gw.get("/admin/toolsets").get("toolsets", []) if isinstance(t, dict)]
    if as_json:
        print_json(toolsets)
        return
    print_table(
        ["NAME", "TOOLS", "DESCRIPTION", "UPDATED"],
        (
            (
                t.get("name"),
                len(t.get("tools") or []),
                t.get("description"),
                _when(t.get("updatedAt")),
            )
            for t in toolsets
        ),
        title="Toolsets",
    )


@toolsets_app.command("show")
def show(
    name: NameArg,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show one toolset's entries and their names on /mcp.

    Example: mcp-gateway toolsets show triage
    """
    with gateway(url, api_key) as gw:
        toolset = gw.get(_path(name)).get("toolset", {})
    if as_json:
        print_json(toolset)
    else:
        _show(toolset)


@toolsets_app.command("set")
def set_toolset(
    name: NameArg,
    tools: Annotated[
        list[str] | None,
        typer.Option(
            "--tool", "-t", help="SERVER/TOOL (repeatable); SERVER/* for all of a server's tools."
        ),
    ] = None,
    servers: Annotated[
        list[str] | None,
        typer.Option("--server", "-s", help="A whole server (repeatable); same as SERVER/*."),
    ] = None,
    description: Annotated[
        str, typer.Option("--description", "-d", help="What the toolset is for.")
    ] = "",
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Create or replace a toolset with exactly the entries given.

    Example: mcp-gateway toolsets set triage -t github/create_issue -t github/list_issues -s docs
    """
    try:
        entries = [parse_tool(spec) for spec in tools or []]
    except ValueError as exc:
        raise fail_usage(str(exc)) from None
    entries += [{"server": server, "tool": "*"} for server in servers or []]
    body = {"description": description, "tools": entries}
    with gateway(url, api_key) as gw:
        result = gw.put(_path(name), body)
    toolset = result.get("toolset", {})
    if as_json:
        print_json({**toolset, "created": result.get("created")})
        return
    verb = "created" if result.get("created") else "replaced"
    count = len(toolset.get("tools") or [])
    say(f"{verb} toolset {name} ({count} entries), served at {toolset.get('endpoint')}")


@toolsets_app.command("delete")
def delete(
    name: NameArg,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete a toolset (its endpoint answers 404 from then on).

    Example: mcp-gateway toolsets delete triage
    """
    with gateway(url, api_key) as gw:
        result = gw.delete(_path(name))
    deleted = bool(result.get("deleted", True))
    if as_json:
        print_json({"name": name, "deleted": deleted})
    else:
        say(f"deleted toolset {name}" if deleted else f"no toolset {name} (nothing to delete)")
