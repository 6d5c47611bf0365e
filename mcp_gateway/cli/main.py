"""The ``mcp-gateway`` command: one typer sub-app per module, combined with ``add_typer``.

``serve``, ``keys`` and ``migrate`` work on this host's settings; ``apikeys create --local``
on the store; every other command talks to a running gateway over HTTP (``--url``/``MCPGW_URL``,
``--api-key``/``MCPGW_API_KEY``). Exit codes: 0 success, 1 the gateway answered an error,
2 usage or connection errors.
"""

from __future__ import annotations

import typer

from mcp_gateway import __version__
from mcp_gateway.cli.apikeys import apikeys_app
from mcp_gateway.cli.audit import audit, audit_app
from mcp_gateway.cli.clients import clients_app
from mcp_gateway.cli.connect import connect, connect_app
from mcp_gateway.cli.keys import keys_app
from mcp_gateway.cli.migrate import migrate_app
from mcp_gateway.cli.packages import packages_app
from mcp_gateway.cli.runs import runs_app
from mcp_gateway.cli.secrets import secrets_app
from mcp_gateway.cli.serve import serve, serve_app
from mcp_gateway.cli.servers import servers_app
from mcp_gateway.cli.status import status
from mcp_gateway.cli.tools import tools_app
from mcp_gateway.cli.toolsets import toolsets_app

app = typer.Typer(
    name="mcp-gateway",
    help="Multi-tenant gateway in front of MCP servers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# The callback docstring carries the example; the sub-app's own help would hide it.
app.add_typer(serve_app, name="serve", help=serve.__doc__)
app.add_typer(keys_app, name="keys", help="Generate and rotate secret-encryption keys.")
app.add_typer(migrate_app, name="migrate", help="Import an mcp-api database into this store.")
app.add_typer(servers_app, name="servers", help="Manage upstream MCP servers.")
app.add_typer(tools_app, name="tools", help="List and call tools.")
app.add_typer(runs_app, name="runs", help="Follow and cancel background tool calls (runs).")
app.add_typer(secrets_app, name="secrets", help="Manage users' encrypted secrets.")
app.add_typer(packages_app, name="packages", help="Install and upgrade MCP server packages.")
app.add_typer(apikeys_app, name="apikeys", help="Manage API keys.")
app.add_typer(audit_app, name="audit", help=audit.__doc__)
app.add_typer(connect_app, name="connect", help=connect.__doc__)
app.add_typer(clients_app, name="clients", help="Configure MCP clients to use the gateway.")
app.add_typer(toolsets_app, name="toolsets", help="Manage toolsets (named subsets of tools).")
app.command("status")(status)


@app.command()
def version() -> None:
    """Print the version. Example: mcp-gateway version"""
    typer.echo(__version__)


def main() -> None:
    app()
