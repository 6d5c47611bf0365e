"""``mcp-gateway tools``: list the tools of the upstream servers and call one."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from mcp_gateway.cli.client import DEFAULT_URL, gateway
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption, UsernameOption
from mcp_gateway.cli.output import print_json, print_table, warn, write_text
from mcp_gateway.cli.parsing import parse_json_object, parse_tool_args
from mcp_gateway.cli.servers import server_path

tools_app = typer.Typer(help="List and call tools.", no_args_is_help=True)

CALL_TIMEOUT = 300.0


def flatten_tools(groups: Any) -> dict[str, list[dict[str, Any]]]:
    """``[{server: [Tool...]}, ...]`` (mcp-api's shape) to ``{server: [Tool...]}``."""
    out: dict[str, list[dict[str, Any]]] = {}
    if isinstance(groups, dict):
        groups = [groups]
    for group in groups or []:
        if isinstance(group, dict):
            for server, tools in group.items():
                out.setdefault(str(server), []).extend(
                    t for t in tools or [] if isinstance(t, dict)
                )
    return out


def _summary(tool: dict[str, Any]) -> str:
    """The description's first line, whole (the table never cuts it)."""
    text = str(tool.get("description") or "").strip()
    return text.splitlines()[0] if text else ""


@tools_app.command("list")
def list_tools(
    server: Annotated[str | None, typer.Option("--server", "-s", help="Only this server.")] = None,
    username: UsernameOption = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List tools per server (parameters the gateway injects, such as secrets, are hidden).

    Example: mcp-gateway tools list --server github --json
    """
    with gateway(url, api_key) as gw:
        if server is not None:
            gw.get(server_path(server))  # a clean server_not_found for an unknown name
        tools = flatten_tools(gw.get("/mcp/tools", username=username).get("tools"))
    if server is not None:
        tools = {server: tools.get(server, [])}
    if as_json:
        print_json(tools)
        return
    print_table(
        ["SERVER", "TOOL", "DESCRIPTION"],
        ((name, t.get("name"), _summary(t)) for name, group in tools.items() for t in group),
        title="Tools",
    )


def print_content(result: dict[str, Any]) -> None:
    """A CallToolResult's text content (other blocks as JSON), cleaned for the terminal."""
    printed = False
    for block in result.get("content") or []:
        if isinstance(block, dict) and block.get("type") == "text":
            write_text(str(block.get("text", "")))
        else:
            write_text(json.dumps(block, indent=2, ensure_ascii=False))
        printed = True
    structured = result.get("structuredContent")
    if structured is not None and not printed:
        write_text(json.dumps(structured, indent=2, ensure_ascii=False))


@tools_app.command("call")
def call(
    server: Annotated[str, typer.Argument(help="Server name.", show_default=False)],
    tool: Annotated[str, typer.Argument(help="Tool name.", show_default=False)],
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg", "-a", help="k=v argument (repeatable); v is parsed as JSON if it can be."
        ),
    ] = None,
    json_args: Annotated[
        str | None,
        typer.Option("--json-args", help="All arguments as one JSON object (--arg adds to it)."),
    ] = None,
    username: UsernameOption = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the answer.")
    ] = CALL_TIMEOUT,
    run_async: Annotated[
        bool,
        typer.Option(
            "--async", help="Start it as a background run: print its id (see `runs watch`)."
        ),
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Call a tool; the gateway adds the user's secrets for that server.

    Prints the text content (or the whole CallToolResult with --json). Exit code 1 when the
    tool itself reports an error (isError), as for any gateway error.
    Example: mcp-gateway tools call github search_repositories --arg query=mcp --arg perPage=5
    With --async the call runs in the gateway's background; only its run id is printed.
    """
    with gateway(url, api_key, timeout=timeout) as gw:
        args = parse_json_object(json_args, "--json-args") if json_args else {}
        args.update(parse_tool_args(arg or []))
        body: dict[str, Any] = {"serverName": server, "methodName": tool, "args": args}
        if username is not None:
            body["username"] = username
        if run_async:
            accepted = gw.post("/mcp/tool/call", {**body, "async": True})
            if as_json:
                print_json(accepted)
            else:
                write_text(str(accepted.get("runId")))
                warn(f"started run; follow it with: mcp-gateway runs watch {accepted.get('runId')}")
            return
        result = gw.post("/mcp/tool/call", body).get("data") or {}
    if as_json:
        print_json(result)
    else:
        print_content(result)
    if isinstance(result, dict) and result.get("isError"):
        print(f"mcp-gateway: tool {tool!r} on {server!r} reported an error", file=sys.stderr)
        raise typer.Exit(1)
