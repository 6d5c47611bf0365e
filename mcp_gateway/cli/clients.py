"""``mcp-gateway clients config <client>``: the entry to paste into an MCP client's settings.

Never prints a key: the entries name it by placeholder or environment variable
(``MCPGW_API_KEY``), so the output can be shared and committed.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import typer

from mcp_gateway.cli.connect import endpoint_url
from mcp_gateway.cli.options import UrlOption

clients_app = typer.Typer(help="Configure MCP clients to use the gateway.")

CLIENTS = ("claude", "claude-code", "cursor", "vscode")
_NAME = "mcp-gateway"


def client_entry(client: str, url: str, server: str | None, toolset: str | None = None) -> str:
    """The text to paste for ``client`` (JSON, or a shell command for ``claude-code``)."""
    endpoint = endpoint_url(url, server, toolset)
    suffix = toolset if toolset is not None else server
    name = _NAME if suffix is None else f"{_NAME}-{suffix}"
    entry: dict[str, Any]
    if client == "claude":  # Claude Desktop starts stdio servers only: through `connect`
        args = ["connect"] + (["--server", server] if server is not None else [])
        args += ["--toolset", toolset] if toolset is not None else []
        env = {"MCPGW_URL": url.rstrip("/"), "MCPGW_API_KEY": "<your mcp-gateway API key>"}
        entry = {"mcpServers": {name: {"command": "mcp-gateway", "args": args, "env": env}}}
    elif client == "cursor":
        headers = {"Authorization": "Bearer ${env:MCPGW_API_KEY}"}
        entry = {"mcpServers": {name: {"url": endpoint, "headers": headers}}}
    elif client == "vscode":
        headers = {"Authorization": "Bearer ${input:mcpgw-api-key}"}
        prompt = {
            "type": "promptString",
            "id": "mcpgw-api-key",
            "description": "mcp-gateway API key",
            "password": True,
        }
        entry = {
            "inputs": [prompt],
            "servers": {name: {"type": "http", "url": endpoint, "headers": headers}},
        }
    elif client == "claude-code":
        return (
            f"claude mcp add --transport http {shlex.quote(name)} {shlex.quote(endpoint)} "
            '--header "Authorization: Bearer $MCPGW_API_KEY"'
        )
    else:
        raise ValueError(f"unknown client {client!r}: one of {', '.join(CLIENTS)}")
    return json.dumps(entry, indent=2)


@clients_app.command("config")
def config(
    client: str = typer.Argument(..., help=f"One of: {', '.join(CLIENTS)}."),
    url: UrlOption = "http://127.0.0.1:8080",
    server: str | None = typer.Option(None, "--server", help="One server (/mcp/X)."),
    toolset: str | None = typer.Option(None, "--toolset", help="A toolset (/mcp/toolsets/Y)."),
) -> None:
    """Print the settings entry that points CLIENT at the gateway's MCP endpoint.

    Example: mcp-gateway clients config cursor --url https://gw.example
    """
    if client not in CLIENTS:
        typer.echo(f"unknown client {client!r}: one of {', '.join(CLIENTS)}", err=True)
        raise typer.Exit(2)
    if server is not None and toolset is not None:
        typer.echo("give --server or --toolset, not both", err=True)
        raise typer.Exit(2)
    typer.echo(client_entry(client, url, server, toolset))
