"""``mcp-gateway connect``: a stdio MCP server that bridges to the gateway's MCP endpoint.

For clients that only start stdio servers (Claude Desktop's ``mcpServers`` ``command``
entries): the client starts ``mcp-gateway connect``, which opens one Streamable HTTP
connection to ``<MCPGW_URL>/mcp`` (or ``/mcp/<server>``, ``/mcp/toolsets/<toolset>``) with
``MCPGW_API_KEY`` as Bearer key and forwards tools, resources, resource templates, prompts,
completions, subscriptions and the endpoint's change notifications (cli/bridge.py). The key
comes from the environment, never argv (``ps`` shows argv). Logs go to stderr; stdout
carries the protocol.
"""

from __future__ import annotations

import sys
from urllib.parse import quote

import typer

from mcp_gateway.cli.options import ApiKeyOption, UrlOption, UsernameOption

connect_app = typer.Typer(help="Bridge a stdio MCP client to the gateway's MCP endpoint.")


def endpoint_url(base: str, server: str | None, toolset: str | None = None) -> str:
    """``/mcp``, ``/mcp/<server>`` or ``/mcp/toolsets/<toolset>`` under ``base``."""
    base = base.rstrip("/")
    if toolset is not None:
        return f"{base}/mcp/toolsets/{quote(toolset, safe='')}"
    return f"{base}/mcp" if server is None else f"{base}/mcp/{quote(server, safe='')}"


@connect_app.callback(invoke_without_command=True)
def connect(
    url: UrlOption = "http://127.0.0.1:8080",
    api_key: ApiKeyOption = None,
    server: str | None = typer.Option(None, "--server", help="One server's endpoint (/mcp/X)."),
    toolset: str | None = typer.Option(
        None, "--toolset", help="A toolset's endpoint (/mcp/toolsets/Y)."
    ),
    username: UsernameOption = None,
) -> None:
    """Serve MCP on stdin/stdout, forwarding to the gateway's /mcp (or /mcp/<server>, or
    /mcp/toolsets/<toolset>).

    Example (Claude Desktop): {"command": "mcp-gateway", "args": ["connect"],
    "env": {"MCPGW_URL": "http://127.0.0.1:8080", "MCPGW_API_KEY": "<user key>"}}
    """
    import anyio

    if server is not None and toolset is not None:
        print("mcp-gateway connect: give --server or --toolset, not both", file=sys.stderr)
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if username is not None:
        headers["X-MCPGW-Username"] = username
    try:
        from mcp_gateway.cli.bridge import serve_bridge

        anyio.run(serve_bridge, endpoint_url(url, server, toolset), headers)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except Exception as exc:  # one line, never the key (headers are not in any message)
        print(f"mcp-gateway connect: {type(exc).__name__}", file=sys.stderr)
        raise typer.Exit(1) from None
