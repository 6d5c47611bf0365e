"""``mcp-gateway servers import FILE``: bring over the servers of an MCP client's config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mcp_gateway.cli.client import DEFAULT_URL, ApiError, GatewayClient, fail_usage, gateway
from mcp_gateway.cli.client_config import ImportFileError, ImportReport, load_config, plan_import
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption
from mcp_gateway.cli.output import print_json, print_table, say


def _existing_names(gw: GatewayClient) -> set[str]:
    return {str(s.get("name")) for s in gw.get("/mcp/servers").get("servers", [])}


def import_servers(
    file: Annotated[
        Path,
        typer.Argument(help="claude_desktop_config.json, .cursor/mcp.json or .vscode/mcp.json"),
    ],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Import the mcpServers of Claude Desktop, Cursor or VS Code (the 'servers' key).

    Reports each entry as added, skipped (a server of that name exists) or invalid. Exit code 1
    when an entry was invalid or refused by the gateway. Move tokens found in env/headers into
    secrets afterwards (mcp-gateway secrets set).
    Example: mcp-gateway servers import ~/.config/Claude/claude_desktop_config.json
    """
    try:
        servers = load_config(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise fail_usage(f"cannot read {file}: {exc.__class__.__name__}") from None
    except ImportFileError as exc:
        raise fail_usage(f"{file}: {exc}") from None
    report = ImportReport()
    with gateway(url, api_key) as gw:
        existing = _existing_names(gw)
        for entry in plan_import(servers):
            if entry.body is None:
                report.invalid.append({"name": entry.name, "reason": entry.reason or "invalid"})
            elif entry.name in existing:
                report.skipped.append({"name": entry.name, "reason": "already exists"})
            else:
                try:
                    gw.post("/mcp/servers", entry.body)
                except ApiError as err:
                    if err.code == "server_already_exists":
                        report.skipped.append({"name": entry.name, "reason": "already exists"})
                    elif err.status in (400, 409):
                        report.invalid.append({"name": entry.name, "reason": err.message})
                    else:
                        raise
                else:
                    report.added.append(entry.name)
                    existing.add(entry.name)
    _print_import(report, as_json)
    if report.invalid:
        raise typer.Exit(1)


def _print_import(report: ImportReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
        return
    rows: list[tuple[str, str, str]] = [(name, "added", "") for name in report.added]
    rows += [(s["name"], "skipped", s["reason"]) for s in report.skipped]
    rows += [(s["name"], "invalid", s["reason"]) for s in report.invalid]
    print_table(["NAME", "RESULT", "REASON"], rows, title="Import")
    say(f"{len(report.added)} added, {len(report.skipped)} skipped, {len(report.invalid)} invalid")
