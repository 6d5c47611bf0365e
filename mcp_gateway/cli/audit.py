"""``mcp-gateway audit``: read the audit trail (``GET /audit``), once or following it.

What a key may read is decided by the gateway (admin: everything; service: its own key's
calls; user: its own username). Every field is cleaned of control characters before it
reaches the terminal, as in every other table.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer

from mcp_gateway.cli.client import DEFAULT_URL, GatewayClient, gateway
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption
from mcp_gateway.cli.output import clean, plain, print_json, print_table

audit_app = typer.Typer(help="Read the audit trail.")

COLUMNS = ["TIME", "OUTCOME", "USERNAME", "SERVER", "TOOL", "MS", "KEY", "ROLE", "REPLICA"]
_JSON_UNSAFE = str.maketrans({c: f"\\u{c:04x}" for c in [*range(0x7F, 0xA0), 0x202A, 0x202B,
                              0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]})  # fmt: skip


def _row(item: dict[str, Any]) -> list[Any]:
    duration = item.get("duration")
    action = item.get("action")
    tool = item.get("tool") if action == "tool_call" else (item.get("detail") or action)
    return [
        item.get("time"),
        item.get("outcome"),
        item.get("username"),
        item.get("server"),
        tool,
        round(duration, 1) if isinstance(duration, int | float) else None,
        item.get("keyId"),
        item.get("role"),
        item.get("replica"),
    ]


def _line(item: dict[str, Any], as_json: bool) -> str:
    if as_json:  # one compact object per line; C0 is escaped by JSON itself
        return json.dumps(item, ensure_ascii=False).translate(_JSON_UNSAFE)
    # One event per line: a newline or tab in a caller-chosen field (a tool name, a refused
    # request's path) is shown escaped, never as a forged line or column.
    fields = (plain(value).replace("\t", "\\t").replace("\n", "\\n") for value in _row(item))
    return "  ".join(fields)


def _emit(items: list[dict[str, Any]], as_json: bool) -> None:
    for item in items:
        sys.stdout.write(clean(_line(item, as_json)) + "\n")
    sys.stdout.flush()


def _follow(
    gw: GatewayClient, filters: dict[str, Any], limit: int, interval: float, as_json: bool
) -> None:
    started = time.time()
    first = gw.get("/audit", **filters, limit=limit)
    _emit(list(reversed(first.get("items") or [])), as_json)  # oldest first, like tail -f
    cursor: str | None = first.get("followCursor")
    while True:
        time.sleep(interval)
        if cursor is None:  # nothing yet: wait for the first event from now on
            page = gw.get("/audit", **{**filters, "since": int(started * 1000)}, limit=500)
            items = list(reversed(page.get("items") or []))
        else:
            page = gw.get("/audit", **filters, limit=500, after=cursor)
            items = page.get("items") or []
        _emit(items, as_json)
        cursor = page.get("followCursor") or cursor


@audit_app.callback(invoke_without_command=True)
def audit(
    server: Annotated[str | None, typer.Option("--server", "-s", help="Only this server.")] = None,
    tool: Annotated[str | None, typer.Option("--tool", "-t", help="Only this tool.")] = None,
    username: Annotated[
        str | None, typer.Option("--username", "-u", help="Only this username.")
    ] = None,
    outcome: Annotated[
        str | None, typer.Option("--outcome", "-o", help="ok, tool_error or an error code.")
    ] = None,
    key: Annotated[str | None, typer.Option("--key", help="Only this API key id.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO 8601 (UTC if no zone) or epoch ms.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Exclusive; like --since.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500, help="Rows.")] = 50,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events (Ctrl-C stops).")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between polls with --follow.")
    ] = 2.0,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show audit records, newest first (with --follow: the last ones, then new ones as they
    happen, oldest first; with --json one object per line).

    Example: mcp-gateway audit --server github --outcome upstream_error --since 2026-12-01
    Example: mcp-gateway audit --follow --json
    """
    filters = {"server": server, "tool": tool, "username": username, "outcome": outcome,
               "key": key, "since": since, "until": until}  # fmt: skip
    with gateway(url, api_key) as gw:
        if follow:
            try:
                _follow(gw, filters, limit, interval, as_json)
            except KeyboardInterrupt:
                return
        page = gw.get("/audit", **filters, limit=limit)
    items = page.get("items") or []
    if as_json:
        print_json(items)
        return
    print_table(COLUMNS, (_row(item) for item in items), title="Audit records")
