"""The ``mcp-gateway`` command: one typer sub-app per module, combined with ``add_typer``."""

from __future__ import annotations

import typer

from mcp_gateway import __version__
from mcp_gateway.cli.keys import keys_app
from mcp_gateway.cli.serve import serve_app

app = typer.Typer(
    name="mcp-gateway",
    help="Multi-tenant gateway in front of MCP servers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(serve_app, name="serve")
app.add_typer(keys_app, name="keys", help="Generate and rotate secret-encryption keys.")


@app.command()
def version() -> None:
    """Print the version. Example: mcp-gateway version"""
    typer.echo(__version__)


def main() -> None:
    app()
