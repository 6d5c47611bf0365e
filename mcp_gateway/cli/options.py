"""Option declarations shared by the commands that talk to a running gateway."""

from __future__ import annotations

from typing import Annotated

import typer

UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="MCPGW_URL",
        show_envvar=True,
        help="Base URL of the gateway.",
        rich_help_panel="Connection",
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="MCPGW_API_KEY",
        show_envvar=True,
        show_default=False,
        help="API key (prefer the environment variable: argv is visible in ps).",
        rich_help_panel="Connection",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the data as JSON on stdout (for scripts).")
]
UsernameOption = Annotated[
    str | None,
    typer.Option(
        "--username", "-u", help="Act for this user (default: the gateway's 'default' user)."
    ),
]
